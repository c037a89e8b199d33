"""Stand-in for the dashboard's process in the sandbox tests.

    python tests/sandbox_host.py WAREHOUSE LIMITS_JSON SQL

checks and runs one analyst query exactly as the SQL page does, converts the capped result to
a DataFrame as the page does, and prints the outcome as one JSON line. The test measures this
process's whole tree (it and the worker it starts) from /proc while it runs.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from dashboards.queries import sandbox
from dashboards.queries.analyst import RefusedQuery, check_analyst_sql


def main(warehouse: str, limits_json: str, sql: str) -> dict:
    limits = sandbox.Limits(**json.loads(limits_json))
    started = time.monotonic()
    try:
        body = check_analyst_sql(sql)
        preview = sandbox.run_preview(body, Path(warehouse), limits)
    except RefusedQuery as exc:
        return {"ok": False, "limit": "refused", "message": str(exc)}
    except sandbox.QueryStopped as exc:
        return {
            "ok": False,
            "limit": exc.limit,
            "message": str(exc),
            "worker_peak_bytes": exc.worker_peak_bytes,
            "seconds": time.monotonic() - started,
        }
    frame = preview.table.to_pandas()
    return {
        "ok": True,
        "rows": len(frame),
        "stopped_by": preview.stopped_by,
        "cut_cells": preview.cut_cells,
        "nbytes": preview.nbytes,
        "worker_peak_bytes": preview.worker_peak_bytes,
        "seconds": time.monotonic() - started,
        "longest_cell": int(
            max((frame[c].astype(str).str.len().max() for c in frame.columns), default=0) or 0
        ),
    }


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])), flush=True)

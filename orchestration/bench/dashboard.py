"""The dashboard stage: each page's queries timed on the built warehouse, uncached."""

from __future__ import annotations

import json
import time
from pathlib import Path

from orchestration import settings
from orchestration.bench import CACHE
from orchestration.bench.measure import percentile, python, run_measured


def child_dashboard(out_json: str, repeats: int) -> None:
    """Run in the measured subprocess (the warehouse named by its environment, as the
    dashboard's): time each page's query functions, uncached, ``repeats`` times."""
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    from orchestration.bench import page_queries

    timings: dict[str, list[float]] = {}
    fns = page_queries.pages()
    for _ in range(repeats):
        for page, fn in fns.items():
            page_queries.clear_cache()  # every call runs its SQL, as after a rebuild
            t = time.perf_counter()
            fn()
            timings.setdefault(page, []).append(time.perf_counter() - t)
    Path(out_json).write_text(json.dumps(timings))


def bench_dashboard(scale: str, repeats: int) -> dict:
    """p50/p95 per page on the warehouse of the ``build`` stage ({} when there is none)."""
    warehouse = CACHE / f"build-{scale}.duckdb"
    if not warehouse.exists():
        return {}
    out = CACHE / f"dashboard-{scale}.json"
    cmd = python(
        "from orchestration.bench.dashboard import child_dashboard;"
        f"child_dashboard({str(out)!r}, {repeats})"
    )
    m = run_measured(cmd, {settings.WAREHOUSE_ENV: str(warehouse)})
    timings = json.loads(out.read_text())
    return {
        "peak_rss_mib": m.peak_rss_mib,
        "repeats": repeats,
        "pages": {
            page: {"p50_ms": percentile(v, 0.5) * 1000, "p95_ms": percentile(v, 0.95) * 1000}
            for page, v in timings.items()
        },
    }

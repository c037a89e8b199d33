"""The dashboard stage: each page's queries timed on the built warehouse, uncached."""

from __future__ import annotations

import json
import time
from pathlib import Path

from orchestration import settings
from orchestration.bench import CACHE
from orchestration.bench.measure import percentile, python, run_measured

# Pages timed again while analysts' hostile queries run (the SQL page's confined runner, its
# default limits): the pages users open first must keep answering.
UNDER_LOAD_PAGES = ("overview", "facility_stock")
HOSTILE_QUERIES = (
    "select count(*) from range(1000000000) as a, range(1000000000) as b",  # time limit
    "select repeat('x', 2000000000) as s",  # memory limit
    "select repeat('x', 10000000) as s from range(5000)",  # cut cells
)


def _time_pages(fns: dict, pages, repeats: int, clear) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {}
    for _ in range(repeats):
        for page in pages:
            clear()  # every call runs its SQL, as after a rebuild
            t = time.perf_counter()
            fns[page]()
            timings.setdefault(page, []).append(time.perf_counter() - t)
    return timings


def child_dashboard(out_json: str, repeats: int) -> None:
    """Run in the measured subprocess (the warehouse named by its environment, as the
    dashboard's): time each page's query functions, uncached, ``repeats`` times; then time
    UNDER_LOAD_PAGES again while two threads keep running HOSTILE_QUERIES through the SQL
    page's runner (as many at once as its default limit of concurrent queries)."""
    import logging
    import threading
    import warnings

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    from dashboards.queries import analyst
    from orchestration.bench import page_queries

    fns = page_queries.pages()
    quiet = _time_pages(fns, list(fns), repeats, page_queries.clear_cache)
    stop = threading.Event()
    stopped: list[str] = []

    def analyst_at_work(offset: int) -> None:
        n = offset
        while not stop.is_set():
            try:
                analyst.run_analyst_query(HOSTILE_QUERIES[n % len(HOSTILE_QUERIES)])
            except analyst.RefusedQuery as exc:
                stopped.append(exc.limit)
            n += 1

    workers = [threading.Thread(target=analyst_at_work, args=(i,)) for i in range(2)]
    for w in workers:
        w.start()
    time.sleep(1.0)  # both hostile queries running
    loaded = _time_pages(fns, UNDER_LOAD_PAGES, repeats, page_queries.clear_cache)
    stop.set()
    for w in workers:
        w.join()
    Path(out_json).write_text(
        json.dumps({"quiet": quiet, "under_load": loaded, "hostile_stopped": stopped})
    )


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

    def summary(pages: dict[str, list[float]]) -> dict:
        return {
            page: {"p50_ms": percentile(v, 0.5) * 1000, "p95_ms": percentile(v, 0.95) * 1000}
            for page, v in pages.items()
        }

    return {
        "peak_rss_mib": m.peak_rss_mib,
        "repeats": repeats,
        "pages": summary(timings["quiet"]),
        "under_load": summary(timings["under_load"]),
        "hostile_stopped": timings["hostile_stopped"],
    }

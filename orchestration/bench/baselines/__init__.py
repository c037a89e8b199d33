"""Baselines for ``make bench``: the core marts computed without dbt, from the raw tables.

A baseline is a (mart, implementation) pair. The marts (``MARTS``, with the columns compared):

- ``fct_custody_intervals``: custody periods per item (R-1, R-3), with the item deactivations
  they depend on (R-18: a transfer after the item was consumed, sold directly, returned or
  written off moves nothing);
- ``fct_facility_stock_access``: on-hand facility stock x user who may use it now (admins and
  custodian-only accounts left out), by the best path to the seller (R-5, R-10, R-13), "now"
  being the build's reference instant;
- ``fct_event_lines``: every event line on a known event and item, classified (R-11, R-14,
  R-16), with the custodian at its instant and the representative's access path.

The implementations (``IMPLEMENTATIONS``), each a whole computation from ``raw.*``:

- ``duckdb_sql``: hand-written DuckDB scripts (QUALIFY, one temp table per step);
- ``pandas``: a straightforward pandas implementation (sort, groupby, merge; no SQL beyond
  reading the raw tables).

``tests/test_bench_baselines.py`` checks that every baseline equals its dbt mart on the sample.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.bench.baselines import duckdb_sql, pandas_impl

MARTS: dict[str, list[str]] = {
    "fct_custody_intervals": [
        "custody_interval_id",
        "item_id",
        "interval_no",
        "custodian_id",
        "custodian_role",
        "valid_from",
        "valid_to",
        "transfer_id",
        "is_current",
    ],
    "fct_facility_stock_access": [
        "item_id",
        "facility_id",
        "user_id",
        "access_path",
        "seller_id",
        "as_of",
    ],
    "fct_event_lines": [
        "event_id",
        "line_no",
        "item_id",
        "usage_class",
        "access_path",
        "custodian_at_use",
        "expected_amount",
    ],
}

IMPLEMENTATIONS = {
    "duckdb_sql": duckdb_sql.compute,
    "pandas": pandas_impl.compute,
}

BASELINES = [(mart, name) for mart in MARTS for name in IMPLEMENTATIONS]


def compute(mart: str, name: str, warehouse: Path, fetch: bool = True) -> pd.DataFrame | None:
    """``mart`` by implementation ``name``; the warehouse is attached read-only as ``w`` to an
    in-memory database (the DuckDB scripts' working tables live there)."""
    con = duckdb.connect(config={"threads": 2, "memory_limit": "3GB"})
    try:
        con.execute("set enable_progress_bar = false")  # no terminal output in a timed run
        con.execute(f"attach '{Path(warehouse)}' as w (read_only)")
        df = IMPLEMENTATIONS[name](con, mart, fetch=fetch)
        return None if df is None else df[MARTS[mart]]
    finally:
        con.close()


def run_cli(mart: str, name: str, warehouse: str) -> None:
    """The measured process of ``make bench``: compute the mart (the DuckDB script keeps it
    in a table, as dbt does; pandas holds it in a DataFrame) and report the time."""
    start = time.perf_counter()
    compute(mart, name, Path(warehouse), fetch=False)
    print(f"{mart} by {name}: {time.perf_counter() - start:.1f} s")

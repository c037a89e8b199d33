"""Baselines for ``make bench``: the custody mart computed without dbt, from the raw tables.

Two implementations of ``marts.fct_custody_intervals`` (custody_interval_id, item_id,
interval_no, custodian_id, custodian_role, valid_from, valid_to, transfer_id, is_current),
with the item deactivations it depends on (R-1, R-3, R-18: a transfer after the item was
consumed, sold directly, returned or written off moves nothing):

- ``duckdb_sql``: a hand-written DuckDB script (QUALIFY, one statement per step);
- ``pandas``: a straightforward pandas implementation (sort, groupby, cumsum).

Both read the same ``raw.*`` tables the dbt build reads; ``tests/test_bench_baselines.py``
checks that both equal the dbt mart on the sample. Scope: the access and classification marts
(``fct_facility_stock_access``, ``fct_event_lines``) have no baseline yet (see
docs/benchmarks.md).
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.bench_baselines import duckdb_sql, pandas_impl

COLUMNS = [
    "custody_interval_id",
    "item_id",
    "interval_no",
    "custodian_id",
    "custodian_role",
    "valid_from",
    "valid_to",
    "transfer_id",
    "is_current",
]

IMPLEMENTATIONS = {
    "duckdb_sql": duckdb_sql.custody_intervals,
    "pandas": pandas_impl.custody_intervals,
}


def compute(name: str, warehouse: Path, fetch: bool = True) -> pd.DataFrame | None:
    """The custody mart by implementation ``name``; the warehouse is attached read-only as
    ``w`` to an in-memory database (the DuckDB script's working tables live there)."""
    con = duckdb.connect(config={"threads": 2, "memory_limit": "3GB"})
    try:
        con.execute(f"attach '{Path(warehouse)}' as w (read_only)")
        df = IMPLEMENTATIONS[name](con, fetch=fetch)
        return None if df is None else df[COLUMNS]
    finally:
        con.close()


def run_cli(name: str, warehouse: str) -> None:
    """The measured process of ``make bench``: compute the mart (the DuckDB script keeps it
    in a table, as dbt does; pandas holds it in a DataFrame) and report the time."""
    start = time.perf_counter()
    compute(name, Path(warehouse), fetch=False)
    print(f"{name}: custody intervals in {time.perf_counter() - start:.1f} s")

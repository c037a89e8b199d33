"""The benchmark baselines compute the same custody mart as dbt (on the sample build)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from orchestration.bench_baselines import COLUMNS, compute


def _mart(warehouse) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(f"select {', '.join(COLUMNS)} from marts.fct_custody_intervals").df()
    finally:
        con.close()


def _canonical(df: pd.DataFrame) -> list[tuple]:
    df = df[COLUMNS].astype(object).where(df[COLUMNS].notna(), None)
    rows = [
        tuple(None if v is None else (str(v) if not isinstance(v, bool) else v) for v in r)
        for r in df.itertuples(index=False)
    ]
    return sorted(rows, key=lambda r: tuple("" if v is None else str(v) for v in r))


@pytest.mark.parametrize("name", ["duckdb_sql", "pandas"])
def test_baseline_equals_the_dbt_custody_mart(sample_warehouse, name):
    expected = _mart(sample_warehouse)
    actual = compute(name, sample_warehouse)
    assert len(expected) > 0
    assert list(actual.columns) == COLUMNS
    assert _canonical(actual) == _canonical(expected)

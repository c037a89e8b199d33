"""Every benchmark baseline (mart x implementation) computes the same rows as its dbt mart on
the sample build."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from orchestration import bench
from orchestration.bench.baselines import BASELINES, IMPLEMENTATIONS, MARTS, compute


def _mart(warehouse, mart: str) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(f"select {', '.join(MARTS[mart])} from marts.{mart}").df()
    finally:
        con.close()


def _canonical(df: pd.DataFrame, columns: list[str]) -> list[tuple]:
    df = df[columns].astype(object).where(df[columns].notna(), None)
    rows = [
        tuple(None if v is None else (str(v) if not isinstance(v, bool) else v) for v in r)
        for r in df.itertuples(index=False)
    ]
    return sorted(rows, key=lambda r: tuple("" if v is None else str(v) for v in r))


def test_the_bench_times_every_baselined_mart():
    assert tuple(MARTS) == bench.CORE_MARTS
    assert [(m, n) for m in bench.CORE_MARTS for n in IMPLEMENTATIONS] == BASELINES


@pytest.mark.parametrize(("mart", "name"), BASELINES)
def test_baseline_equals_the_dbt_mart(sample_warehouse, mart, name):
    expected = _mart(sample_warehouse, mart)
    actual = compute(mart, name, sample_warehouse)
    assert len(expected) > 0
    assert list(actual.columns) == MARTS[mart]
    assert _canonical(actual, MARTS[mart]) == _canonical(expected, MARTS[mart])

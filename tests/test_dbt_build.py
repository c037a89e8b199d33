"""``dbt build`` on real warehouses, checked against the generator's truth and the oracle.

- The bundled sample (``data/sample``), ingested with ``orchestration.ingest`` and built with
  dbt: ``marts.fct_exceptions`` must equal ``_truth/expected_exceptions.csv`` exactly and the
  figures must equal ``_truth/figures.json``; every mart must also agree with the independent
  oracle (``tests/oracle``) on the same raw rows.
- Many small random worlds (every id prefixed per world, so they share one warehouse), loaded
  straight into the contract's raw tables: every mart must agree with the oracle row by row.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import dbt_support as h
import oracle
import pytest

from orchestration import ingest, settings

SAMPLE = settings.PROJECT_ROOT / "data" / "sample"
TRUTH = SAMPLE / "_truth"

FIGURES_SQL = h.FIGURES_SQL


def _build(warehouse: Path, work: Path) -> None:
    """``dbt build`` with the dbt unit tests (production builds leave them out): every unit
    test of the project must have run and passed."""
    result = h.run_dbt(["build"], warehouse, work)
    assert result.returncode == 0, result.stdout[-4000:]
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    unit_tests = set(manifest["unit_tests"])
    passed = {r["unique_id"] for r in results if r["status"] == "pass"}
    assert len(unit_tests) >= 13 and unit_tests <= passed, sorted(unit_tests - passed)


@pytest.fixture(scope="module")
def sample_build(tmp_path_factory) -> Path:
    assert TRUTH.is_dir(), f"the bundled sample lacks its ground truth {TRUTH}"
    tmp = tmp_path_factory.mktemp("dbt_sample")
    warehouse = tmp / "custodia.duckdb"
    ingest.ingest_into(warehouse, SAMPLE)
    _build(warehouse, tmp)
    return warehouse


@pytest.fixture(scope="module")
def random_build(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dbt_random")
    warehouse = tmp / "custodia.duckdb"
    world = h.random_worlds(80, seed=11)
    h.load_rows(warehouse, dict(world.rows))
    _build(warehouse, tmp)
    return warehouse, world.run()


# --------------------------------------------------------------------------- sample truth


@pytest.mark.slow
def test_sample_exceptions_equal_truth(sample_build):
    expected = oracle.load_exceptions_csv(TRUTH / "expected_exceptions.csv")
    actual = oracle.load_exceptions_duckdb(sample_build)
    missing, unexpected = oracle.diff_exceptions(expected, actual)
    assert missing == [] and unexpected == [], {"missing": missing, "unexpected": unexpected}


@pytest.mark.slow
def test_sample_figures_equal_truth(sample_build):
    truth = json.loads((TRUTH / "figures.json").read_text())
    (figures,) = h.fetch(sample_build, FIGURES_SQL)
    for name in (
        "facility_stock_on_hand_items",
        "facility_stock_units_on_hand",
        "sales_ledger_lines",
        "exceptions_total",
    ):
        if name in truth:
            assert figures[name] == truth[name], name
    for name in ("facility_stock_value_on_hand", "sales_ledger_total", "double_billed_amount"):
        if name in truth:
            assert Decimal(str(figures[name])) == Decimal(truth[name]), name
    by_code = dict(
        (r["code"], r["n"])
        for r in h.fetch(
            sample_build, "select code, count(*) as n from marts.fct_exceptions group by code"
        )
    )
    assert by_code == truth.get("exceptions_by_code", by_code)


@pytest.mark.slow
def test_sample_agrees_with_oracle(sample_build):
    result = oracle.run(oracle.load_from_duckdb(sample_build))
    _assert_marts_agree(sample_build, result)


# --------------------------------------------------------------------------- random worlds


@pytest.mark.slow
def test_random_worlds_agree_with_oracle(random_build):
    warehouse, result = random_build
    _assert_marts_agree(warehouse, result)


@pytest.mark.slow
def test_random_worlds_follow_key_convention(random_build):
    warehouse, _ = random_build
    rows = oracle.load_exceptions_duckdb(warehouse)
    assert rows, "random worlds raise exceptions"
    assert oracle.key_convention_violations(rows) == []


@pytest.mark.slow
def test_random_worlds_exercise_every_code(random_build):
    warehouse, _ = random_build
    codes = {
        r["code"] for r in h.fetch(warehouse, "select distinct code from marts.fct_exceptions")
    }
    # not every code is likely in small random worlds (the sample covers all of them), but
    # enough must appear for the row-by-row comparison to mean something
    assert len(codes) >= 10, codes


_assert_marts_agree = h.assert_marts_agree

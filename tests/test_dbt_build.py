"""``dbt build`` on real warehouses, checked against the generator's truth and the oracle.

- The bundled sample (``data/sample``), ingested with ``orchestration.ingest`` and built with
  dbt: ``marts.fct_exceptions`` must equal ``_truth/expected_exceptions.csv`` exactly and the
  figures must equal ``_truth/figures.json``; every mart must also agree with the independent
  oracle (``tests/oracle``) on the same raw rows.
- Many small random worlds (every id prefixed per world, so they share one warehouse), loaded
  straight into the contract's raw tables: every mart must agree with the oracle row by row.
"""

from __future__ import annotations

import collections
import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import dbt_support as h
import oracle
import pytest

from orchestration import settings

SAMPLE = settings.PROJECT_ROOT / "data" / "sample"
TRUTH = SAMPLE / "_truth"

FIGURES_SQL = """
select
    (select count(*) from marts.fct_facility_stock where quantity_on_hand > 0)
        as facility_stock_on_hand_items,
    (select coalesce(sum(quantity_on_hand), 0) from marts.fct_facility_stock)
        as facility_stock_units_on_hand,
    (select coalesce(sum(value_on_hand), 0) from marts.fct_facility_stock)
        as facility_stock_value_on_hand,
    (select coalesce(sum(amount), 0) from marts.fct_sales) as sales_ledger_total,
    (select count(*) from marts.fct_sales) as sales_ledger_lines,
    (select coalesce(sum(commission_amount), 0) from marts.fct_sales) as commission_total,
    (select coalesce(sum(double_billed_amount), 0) from marts.rpt_reconciliation_monthly)
        as double_billed_amount,
    (select count(*) from marts.fct_inventory_status where is_active) as active_items,
    (select count(*) from marts.fct_exceptions) as exceptions_total
"""


def _build(warehouse: Path, work: Path) -> None:
    result = h.run_dbt(["build"], warehouse, work)
    assert result.returncode == 0, result.stdout[-4000:]


@pytest.fixture(scope="module")
def sample_build(tmp_path_factory) -> Path:
    if not TRUTH.is_dir():
        pytest.skip("no generated sample with _truth yet")
    ingest = pytest.importorskip("orchestration.ingest")
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


# --------------------------------------------------------------------------- comparison


def _norm(value):
    # money is stored to the cent, rounded half away from zero (commission_amount per line)
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return value


def _compare(name, mine, theirs, key, columns) -> list[str]:
    m = {tuple(r[k] for k in key): r for r in mine}
    t = {tuple(r[k] for k in key): r for r in theirs}
    problems = []
    for k in sorted(set(m) ^ set(t), key=str):
        problems.append(f"{name} {k}: only in {'dbt' if k in m else 'oracle'}")
    for k in sorted(set(m) & set(t), key=str):
        for c in columns:
            if _norm(m[k].get(c)) != _norm(t[k].get(c)):
                problems.append(f"{name} {k} {c}: dbt={m[k].get(c)!r} oracle={t[k].get(c)!r}")
    return problems


def _assert_marts_agree(warehouse: Path, result) -> None:
    keys = oracle.KEY_COLUMNS
    mine = collections.Counter(
        tuple(r[c] for c in keys) for r in h.fetch(warehouse, "select * from marts.fct_exceptions")
    )
    theirs = collections.Counter(tuple(r[c] for c in keys) for r in result.exceptions)
    problems = [f"exception only in dbt: {k}" for k in mine - theirs]
    problems += [f"exception only in oracle: {k}" for k in theirs - mine]
    q = lambda sql: h.fetch(warehouse, sql)  # noqa: E731
    problems += _compare(
        "fct_event_lines",
        q("select * from marts.fct_event_lines"),
        result.event_lines,
        ["event_id", "line_no"],
        ["usage_class", "access_path", "custodian_at_use", "expected_amount", "line_at"],
    )
    problems += _compare(
        "fct_sales",
        q("select * from marts.fct_sales"),
        result.sales,
        ["event_id", "line_no"],
        ["amount", "commission_amount", "sold_at", "quantity", "facility_id"],
    )
    problems += _compare(
        "fct_facility_stock",
        q("select * from marts.fct_facility_stock"),
        result.facility_stock,
        ["item_id"],
        [
            "facility_id",
            "seller_id",
            "stocking_order_id",
            "stocking_order_line_no",
            "sold_at",
            "quantity_sold",
            "quantity_used",
            "quantity_returned",
            "quantity_adjusted",
            "quantity_on_hand",
            "value_on_hand",
            "status",
        ],
    )
    problems += _compare(
        "fct_inventory_status",
        q("select * from marts.fct_inventory_status"),
        list(result.inventory_status.values()),
        ["item_id"],
        [
            "custodian_id",
            "is_active",
            "is_facility_stock",
            "facility_id",
            "seller_id",
            "quantity_remaining",
            "deactivated_at",
            "deactivation_reason",
        ],
    )
    problems += _compare(
        "fct_facility_stock_access",
        q("select * from marts.fct_facility_stock_access"),
        result.facility_stock_access,
        ["item_id", "user_id"],
        ["access_path", "facility_id"],
    )
    problems += _compare(
        "fct_custody_intervals",
        q("select * from marts.fct_custody_intervals"),
        result.custody_intervals,
        ["item_id", "valid_from", "transfer_id"],
        ["custodian_id", "valid_to"],
    )
    (figures,) = q(FIGURES_SQL)
    expected_figures = dict(result.figures)
    # the mart rounds each line's commission to the cent; the oracle keeps exact products
    expected_figures["commission_total"] = sum(
        (_norm(s["commission_amount"]) for s in result.sales), Decimal(0)
    )
    for name, value in expected_figures.items():
        if _norm(figures[name]) != _norm(value):
            problems.append(f"figure {name}: dbt={figures[name]} oracle={value}")
    assert problems == [], "\n".join(problems[:40])

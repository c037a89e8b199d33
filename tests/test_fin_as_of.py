"""As of any date (issue 15): facility stock and who could use it at a chosen instant.

The interval marts, filtered at an instant by the dashboard's queries (dashboards.queries.as_of),
are compared with the oracle evaluated at that instant (oracle.run(..., as_of=t), which
snapshots the item states there), on the bundled sample and on random worlds, at instants that
fall exactly on lines, transfers and link changes as well as between them. The dbt var as_of is
run for real: a date, a date before the data, a bad value.
"""

from __future__ import annotations

import random
import shutil
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import dbt_support as h
import duckdb
import oracle
import pandas as pd
import pytest
from dashboard_fixture import build_fixture_warehouse
from test_dashboard import metric, open_page, rerun, table

from dashboards.queries import as_of as q


@pytest.fixture(scope="module")
def warehouse(sample_warehouse) -> Path:
    return sample_warehouse


@pytest.fixture(autouse=True)
def _point_at_warehouse(request, monkeypatch):
    if "warehouse" in request.fixturenames:
        monkeypatch.setenv("CUSTODIA_WAREHOUSE", str(request.getfixturevalue("warehouse")))


def _instants(warehouse: Path, n: int, seed: int) -> list[datetime]:
    """Instants where things happen (lines, transfers, links, sharing), a second before and
    after some, the first and the newest instant: the boundaries are where mistakes hide."""
    rows = h.fetch(
        warehouse,
        """
        select line_at as t from marts.fct_event_lines where line_at is not null
        union select valid_from from marts.fct_custody_intervals
        union select valid_from from marts.fct_access_path_intervals where valid_from is not null
        union select valid_to from marts.fct_access_path_intervals where valid_to is not null
        union select valid_from from marts.fct_facility_stock_intervals
        """,
    )
    times = sorted({r["t"] for r in rows})
    rng = random.Random(seed)
    picked = rng.sample(times, min(n, len(times)))
    span = h.fetch(warehouse, "select first_seen_at, as_of from marts.dim_reference_instant")[0]
    second = timedelta(seconds=1)
    out = {span["first_seen_at"], span["as_of"]}
    for t in picked:
        out |= {t, t - second, t + second}
    return sorted(t for t in out if span["first_seen_at"] <= t <= span["as_of"])


def _norm(value):
    """One spelling for a value read through pandas or straight from DuckDB."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return round(float(value), 2)
    if isinstance(value, (date, datetime, pd.Timestamp)):
        return pd.Timestamp(value).isoformat()
    return str(value)


def _dashboard_at(t: datetime) -> tuple[list[tuple], list[tuple]]:
    stock = q.stock_at(t)
    access = q.stock_access_at(t)
    return (
        sorted(
            (r.item_id, r.facility_id, r.seller_id, r.stocking_order_id, int(r.quantity_on_hand))
            for r in stock.itertuples()
        ),
        sorted((r.item_id, r.facility_id, r.user_id, r.access_path) for r in access.itertuples()),
    )


def _oracle_at(data: dict, t: datetime) -> tuple[list[tuple], list[tuple]]:
    result = oracle.run(data, as_of=t)
    on_hand = [
        f for f in result.facility_stock if f["status"] == "ON_HAND" and f["quantity_on_hand"] > 0
    ]
    return (
        sorted(
            (
                f["item_id"],
                f["facility_id"],
                f["seller_id"],
                f["stocking_order_id"],
                f["quantity_on_hand"],
            )
            for f in on_hand
        ),
        sorted(
            (a["item_id"], a["facility_id"], a["user_id"], a["access_path"])
            for a in result.facility_stock_access
        ),
    )


def _assert_agree_at_instants(warehouse: Path, n: int, seed: int) -> int:
    data = oracle.load_from_duckdb(warehouse)
    instants = _instants(warehouse, n, seed)
    checked = 0
    for t in instants:
        mine, theirs = _dashboard_at(t), _oracle_at(data, t)
        assert mine[0] == theirs[0], f"stock on hand at {t}"
        assert mine[1] == theirs[1], f"access at {t}"
        checked += len(theirs[0])
    return checked


def test_sample_stock_and_access_agree_with_the_oracle_at_many_instants(warehouse):
    assert _assert_agree_at_instants(warehouse, n=25, seed=3) > 0


def test_at_the_newest_instant_the_views_equal_the_now_marts(warehouse):
    newest = q.resolve(None).at
    levels = q.stock_levels_at(newest)
    now = h.fetch(warehouse, "select * from marts.rpt_stock_levels")
    columns = [c for c in now[0] if c in levels.columns]
    assert len(columns) == 10
    shown = [[_norm(v) for v in row] for row in levels[columns].values.tolist()]
    expected = [[_norm(r[c]) for c in columns] for r in now]
    assert sorted(shown, key=str) == sorted(expected, key=str)
    access = q.stock_access_at(newest)
    now_access = h.fetch(
        warehouse, "select item_id, user_id, access_path from marts.fct_facility_stock_access"
    )
    assert sorted(zip(access.item_id, access.user_id, access.access_path, strict=True)) == sorted(
        (r["item_id"], r["user_id"], r["access_path"]) for r in now_access
    )


@pytest.fixture(scope="module")
def random_warehouse(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("as_of_random")
    warehouse = tmp / "custodia.duckdb"
    world = h.random_worlds(40, seed=29)
    h.load_rows(warehouse, dict(world.rows))
    result = h.run_dbt(["build", "--exclude-resource-type", "unit_test"], warehouse, tmp)
    assert result.returncode == 0, result.stdout[-4000:]
    return warehouse


def test_random_worlds_agree_with_the_oracle_at_many_instants(random_warehouse, monkeypatch):
    monkeypatch.setenv("CUSTODIA_WAREHOUSE", str(random_warehouse))
    assert _assert_agree_at_instants(random_warehouse, n=30, seed=5) > 0


def test_item_paths_at_an_instant_agree_with_the_oracle(warehouse):
    """Items in custody (not facility stock) at t: the users with a path to the custodian."""
    data = oracle.load_from_duckdb(warehouse)
    rng = random.Random(8)
    custody = h.fetch(
        warehouse,
        "select item_id, custodian_id, valid_from from marts.fct_custody_intervals "
        "where custodian_id <> 'ORG' and (valid_to is null or valid_from < valid_to)",
    )
    checked = 0
    for row in rng.sample(custody, 40):
        t = row["valid_from"]
        answer = q.item_access_at(row["item_id"], t)
        if answer["state"] != "CUSTODY":
            continue
        assert answer["holder_id"] == row["custodian_id"]
        shown = dict(zip(answer["access"].user_id, answer["access"].access_path, strict=True))
        assert shown == oracle.paths_at(data, row["custodian_id"], t), (row, t)
        checked += 1
    assert checked >= 10


def test_resolve_reads_a_date_as_the_end_of_that_day(warehouse):
    span = q.data_span()
    first = span["first_seen_at"].to_pydatetime()
    newest = span["as_of"].to_pydatetime()
    day = first.date() + timedelta(days=10)
    assert q.resolve(day).at == datetime.combine(day, datetime.max.time())
    assert q.resolve(day).note is None
    assert q.resolve(None).at == newest
    # the newest data's own day is "now", quietly; a later day is now, with a note
    assert q.resolve(newest.date()).at == newest and q.resolve(newest.date()).note is None
    later = q.resolve(newest.date() + timedelta(days=400))
    assert later.at == newest and "after the newest data" in later.note
    with pytest.raises(q.AsOfError, match="before any data"):
        q.resolve(first.date() - timedelta(days=1))
    with pytest.raises(q.AsOfError, match="before any data"):
        q.resolve(first - timedelta(seconds=1))
    assert q.resolve(first).at == first


# --------------------------------------------------------------------------- the pages


def test_facility_stock_date_picker_defaults_to_now(warehouse):
    at = open_page("facility_stock")
    newest = q.resolve(None).at
    assert at.date_input(key="fs_as_of").value == newest.date()
    assert metric(at, f"Units on hand {newest:%Y-%m-%d}") == metric(at, "Units on hand")
    assert metric(at, "Value on hand then") == metric(at, "Value on hand")


def test_facility_stock_date_picker_shows_the_stock_then(warehouse):
    data = oracle.load_from_duckdb(warehouse)
    at = open_page("facility_stock")
    span = q.data_span()
    middle = span["first_seen_at"] + (span["as_of"] - span["first_seen_at"]) * 0.7
    day = middle.date()
    at.date_input(key="fs_as_of").set_value(day)
    rerun(at)
    stock, access = _oracle_at(data, datetime.combine(day, datetime.max.time()))
    assert stock, "pick a day with stock on hand"
    assert metric(at, f"Units on hand {day:%Y-%m-%d}") == f"{sum(s[4] for s in stock):,}"
    shown = table(at, "fs_as_of_access_table")
    assert sorted(zip(shown.item_id, shown.user_id, strict=True)) == sorted(
        (a[0], a[2]) for a in access
    )


def test_facility_stock_date_before_the_data_is_refused_on_the_page(warehouse):
    at = open_page("facility_stock")
    first = q.data_span()["first_seen_at"]
    at.date_input(key="fs_as_of").set_value(first.date() - timedelta(days=1))
    rerun(at)
    assert any("before any data" in e.value for e in at.error)
    labels = [m.label for m in at.metric]
    assert not any(label.startswith("Units on hand 1") for label in labels)


def test_facility_stock_date_after_the_data_says_so(warehouse):
    at = open_page("facility_stock")
    newest = q.resolve(None).at
    at.date_input(key="fs_as_of").set_value(newest.date() + timedelta(days=30))
    rerun(at)
    assert any("after the newest data" in i.value for i in at.info)
    assert metric(at, f"Units on hand {newest:%Y-%m-%d}") == metric(at, "Units on hand")


def test_item_trace_answers_who_could_use_an_item_then(warehouse):
    data = oracle.load_from_duckdb(warehouse)
    row = h.fetch(
        warehouse,
        "select item_id, valid_from from marts.fct_facility_stock_access_intervals "
        "where access_path = 'DISTRIBUTOR_SHARE' order by item_id, valid_from limit 1",
    )[0]
    at = open_page("item_trace")
    at.text_input(key="trace_query").set_value(row["item_id"])
    rerun(at)
    at.date_input(key="trace_as_of").set_value(row["valid_from"].date())
    rerun(at)
    t = datetime.combine(row["valid_from"].date(), datetime.max.time())
    _, access = _oracle_at(data, t)
    expected = sorted((a[2], a[3]) for a in access if a[0] == row["item_id"])
    shown = table(at, "trace_as_of_table")
    assert sorted(zip(shown.user_id, shown.access_path, strict=True)) == expected
    assert any(m.value.startswith("**Facility Stock**") for m in at.markdown)


# --------------------------------------------------------------------------- dbt var as_of


@pytest.fixture(scope="module")
def var_warehouse(sample_warehouse, tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("as_of_var")
    copy = tmp / "custodia.duckdb"
    shutil.copy(sample_warehouse, copy)
    return copy, tmp


def _run_as_of(var_warehouse, value: str):
    warehouse, tmp = var_warehouse
    return h.run_dbt(
        [
            "run",
            "--select",
            "rpt_stock_levels_as_of fct_facility_stock_access_as_of",
            "--vars",
            f"{{as_of: '{value}'}}",
        ],
        warehouse,
        tmp,
    )


def test_dbt_var_as_of_evaluates_the_marts_at_that_date(var_warehouse, warehouse):
    day = date(2024, 3, 1)
    result = _run_as_of(var_warehouse, day.isoformat())
    assert result.returncode == 0, result.stdout[-3000:]
    rows = h.fetch(var_warehouse[0], "select * from marts.rpt_stock_levels_as_of")
    t = datetime.combine(day, datetime.max.time())
    assert {r["as_of"] for r in rows} == {t}
    levels = q.stock_levels_at(t)
    assert sorted(
        (r["facility_id"], r["catalog_number"], r["quantity_on_hand"], r["eligible_users"])
        for r in rows
    ) == sorted(
        zip(
            levels.facility_id,
            levels.catalog_number,
            levels.quantity_on_hand,
            levels.eligible_users,
            strict=True,
        )
    )
    h.close_dashboard_connection()  # the page's kept connection: other settings below
    data = oracle.load_from_duckdb(warehouse)
    stock, access = _oracle_at(data, t)
    assert sum(r["quantity_on_hand"] for r in rows) == sum(s[4] for s in stock)
    con = duckdb.connect(str(var_warehouse[0]), read_only=True)
    try:
        n = con.execute("select count(*) from marts.fct_facility_stock_access_as_of").fetchall()
    finally:
        con.close()
    assert n[0][0] == len(access)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2001-01-01", "is before any data: the first record is at"),
        ("yesterday", "is not a date (YYYY-MM-DD) or a timestamp"),
        ("2024-02-30", "is not a calendar date"),
    ],
)
def test_dbt_var_as_of_refuses_bad_input_with_a_message(var_warehouse, value, message):
    result = _run_as_of(var_warehouse, value)
    assert result.returncode != 0
    assert message in result.stdout, result.stdout[-3000:]


@pytest.mark.parametrize("page", ["facility_stock", "finance", "item_trace"])
def test_a_warehouse_built_before_these_marts_still_answers(tmp_path, monkeypatch, page):
    """The hand-made fixture has none of the interval or price-variance marts: the new
    sections say so and the rest of the page renders."""
    monkeypatch.setenv("CUSTODIA_WAREHOUSE", str(build_fixture_warehouse(tmp_path / "w.duckdb")))
    at = open_page(page)
    if page == "item_trace":
        at.text_input(key="trace_query").set_value("I")
        rerun(at)
    notes = [i.value for i in at.info if "is not available in this warehouse" in i.value]
    assert len(notes) == 1, [i.value for i in at.info]
    assert at.title[0].value

"""Price variance (issue 15): the marts against a plain-Python reading of the product versions,
and the finance page's section (chart data, threshold control, CSVs, a bad setting)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from test_dashboard import downloads, mart, open_page, read_download, rerun, table  # noqa: F401

from dashboards.queries import price_variance
from orchestration import settings


@pytest.fixture(scope="module")
def warehouse(sample_warehouse) -> Path:
    return sample_warehouse


@pytest.fixture(autouse=True)
def _point_at_warehouse(request, monkeypatch):
    if "warehouse" in request.fixturenames:
        monkeypatch.setenv("CUSTODIA_WAREHOUSE", str(request.getfixturevalue("warehouse")))
    monkeypatch.delenv(settings.PRICE_VARIANCE_THRESHOLD_ENV, raising=False)


def _expected_list_prices(warehouse: Path) -> dict[str, tuple[Decimal | None, str]]:
    """event_line_id -> (list price, basis), read from every raw product row in Python."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        raw = con.execute(
            "select trim(catalog_number), updated_at, list_price, _file_id, _row_number "
            "from raw.products"
        ).fetchall()
        sales = con.execute("select event_line_id, catalog_number, sold_at from marts.fct_sales")
        sales = sales.fetchall()
    finally:
        con.close()
    versions: dict[str, dict] = {}
    for cat, updated_at, price, file_id, row_no in raw:
        best = versions.setdefault(cat, {}).get(updated_at)
        if best is None or (file_id, row_no) > best[1]:
            versions[cat][updated_at] = (price, (file_id, row_no))
    out = {}
    for line_id, cat, sold_at in sales:
        by_time = versions.get(cat)
        if not by_time:
            out[line_id] = (None, "NO_PRODUCT")
            continue
        before = [t for t in by_time if t <= sold_at]
        if before:
            out[line_id] = (by_time[max(before)][0], "VERSION_AT_LINE")
        else:
            out[line_id] = (by_time[min(by_time)][0], "EARLIEST_VERSION")
    return out


def test_every_ledger_line_has_the_list_price_in_force(warehouse):
    expected = _expected_list_prices(warehouse)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select event_line_id, list_price, list_price_basis, unit_price, quantity, "
            "variance_amount, variance_pct from marts.fct_price_variance"
        ).fetchall()
    finally:
        con.close()
    assert len(rows) == len(expected) > 0
    for line_id, list_price, basis, unit_price, quantity, variance, pct in rows:
        assert (list_price, basis) == expected[line_id], line_id
        if list_price is not None:
            assert variance == (unit_price - list_price) * quantity
            if list_price > 0:
                exact = 100 * (unit_price - list_price) / list_price  # stored to 4 decimals
                assert float(pct) == pytest.approx(float(exact), abs=0.00005), line_id


def test_summary_adds_up_to_the_lines(warehouse):
    lines = mart(warehouse, "select * from marts.fct_price_variance")
    summary = mart(warehouse, "select * from marts.rpt_price_variance_summary")
    assert summary["ledger_lines"].sum() == len(lines)
    total = lines["variance_amount"].sum()
    assert summary["variance_amount"].sum() == pytest.approx(total, abs=0.005)
    assert summary["lines_below_list"].sum() == (lines.unit_price < lines.list_price).sum()


def test_finance_page_lists_lines_below_the_threshold(warehouse, downloads):  # noqa: F811
    at = open_page("finance")
    default = settings.DEFAULT_PRICE_VARIANCE_THRESHOLD_PCT
    assert at.number_input(key="pv_threshold").value == default

    def below(pct: float) -> pd.DataFrame:
        return mart(
            warehouse,
            "select event_id, line_no from marts.fct_price_variance where variance_pct < ?",
            [-pct],
        )

    for pct in (settings.DEFAULT_PRICE_VARIANCE_THRESHOLD_PCT, 1.0, 100.0):
        at.number_input(key="pv_threshold").set_value(pct)
        rerun(at)
        expected = below(pct)
        counts = [m.value for m in at.markdown if "below list by more than" in m.value]
        assert counts == [f"**Lines below list by more than {pct:g} %:** {len(expected):,}"]
        if expected.empty:
            continue
        csv = read_download(downloads["price_variance_lines.csv"])
        assert sorted(zip(csv.event_id, csv.line_no.astype(int), strict=True)) == sorted(
            zip(expected.event_id, expected.line_no, strict=True)
        )


def test_finance_page_groups_the_variance(warehouse, downloads):  # noqa: F811
    at = open_page("finance")
    for label, column in price_variance.DIMENSIONS.items():
        at.radio(key="pv_group").set_value(label)
        rerun(at)
        shown = table(at, "pv_summary_table")
        expected = mart(
            warehouse,
            f"select {column}, sum(variance_amount) v from marts.rpt_price_variance_summary "
            "group by 1",
        )
        assert dict(zip(shown[column], shown.variance_amount, strict=True)) == dict(
            zip(expected[column], expected.v, strict=True)
        )
    csv = read_download(downloads["price_variance_summary.csv"])
    rows = mart(warehouse, "select count(*) n from marts.rpt_price_variance_summary")
    assert len(csv) == rows.n[0]


def test_threshold_default_comes_from_the_setting(warehouse, monkeypatch):
    monkeypatch.setenv(settings.PRICE_VARIANCE_THRESHOLD_ENV, "25")
    at = open_page("finance")
    assert at.number_input(key="pv_threshold").value == 25.0


@pytest.mark.parametrize("value", ["ten", "-5", "250", "nan"])
def test_a_bad_threshold_setting_is_named_on_the_page(warehouse, monkeypatch, value):
    monkeypatch.setenv(settings.PRICE_VARIANCE_THRESHOLD_ENV, value)
    at = open_page("finance")
    errors = [e.value for e in at.error]
    assert any(settings.PRICE_VARIANCE_THRESHOLD_ENV in e and repr(value) in e for e in errors)
    # the rest of the page still answers
    assert table(at, "fin_table") is not None


@pytest.mark.parametrize("value", [-1, 100.5, "x", None])
def test_query_refuses_a_bad_threshold(value):
    with pytest.raises(ValueError, match="threshold"):
        price_variance.check_threshold(value)


def test_query_refuses_an_unknown_grouping():
    with pytest.raises(ValueError, match="unknown grouping"):
        price_variance.summary("Colour")

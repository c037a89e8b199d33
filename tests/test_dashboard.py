"""The Streamlit dashboard, driven page by page with AppTest.

Every figure a page shows is compared with what the marts say, queried here independently
(plain SQL on a read-only connection), never with numbers written in the test. The warehouse
is the bundled sample built by the real `custodia build` (conftest.sample_warehouse).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dashboard_fixture import build_fixture_warehouse
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from dashboards import ui
from dashboards.queries import analyst, connection, sandbox

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "dashboards" / "app.py")
TIMEOUT = 60  # seconds per script run; the AppTest default (3 s) is too short on a busy box

PAGES = {
    "overview": "views/overview.py",
    "facility_stock": "views/facility_stock.py",
    "non_sale_usage": "views/non_sale_usage.py",
    "finance": "views/finance.py",
    "sales": "views/sales.py",
    "item_trace": "views/item_trace.py",
    "exceptions": "views/exceptions.py",
    "data_quality": "views/data_quality.py",
    "sql": "views/sql.py",
}


# --------------------------------------------------------------------------------------------
# Fixtures and helpers


@pytest.fixture(scope="module")
def warehouse(sample_warehouse) -> Path:
    """The bundled sample, built by the real `custodia build` (conftest.sample_warehouse)."""
    return sample_warehouse


@pytest.fixture(autouse=True)
def _point_at_warehouse(request, monkeypatch):
    if "warehouse" in request.fixturenames:
        monkeypatch.setenv("CUSTODIA_WAREHOUSE", str(request.getfixturevalue("warehouse")))


def mart(warehouse: Path, sql: str, params=None) -> pd.DataFrame:
    """What the marts say: an independent read-only query (the dashboard's kept connection
    closed first: DuckDB refuses a connection with other settings beside it)."""
    connection.close_kept()
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params).df()
    finally:
        con.close()


def mart_value(warehouse: Path, sql: str, params=None):
    value = mart(warehouse, sql, params).iloc[0, 0]
    return 0 if value is None or pd.isna(value) else value


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    if page != "overview":
        at.switch_page(PAGES[page]).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def metric(at: AppTest, label: str) -> str:
    for m in at.metric:
        if m.label == label:
            return m.value
    raise AssertionError(f"no metric {label!r} in {[m.label for m in at.metric]}")


def table(at: AppTest, key: str) -> pd.DataFrame:
    """The table a page shows in the container with this key."""
    return at.container(key=key).dataframe[0].value


def select_all_months(at: AppTest) -> None:
    """Pick "All months", the last option of the sales month selector."""
    month = at.selectbox(key="sales_month")
    month.select_index(len(month.options) - 1)


def rerun(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


class _Downloads(dict):
    """File name -> bytes; a deferred download (a callable) is generated when read, as on a
    click."""

    def __getitem__(self, file_name: str) -> bytes:
        data = super().__getitem__(file_name)
        return data() if callable(data) else data


@pytest.fixture
def downloads(monkeypatch) -> dict[str, bytes]:
    """Capture the bytes of every download button, by file name (the latest run's)."""
    captured = _Downloads()
    original = MediaFileManager.add
    original_deferred = MediaFileManager.add_deferred

    def add(self, path_or_data, mimetype, coordinates, file_name=None, **kwargs):
        if file_name and isinstance(path_or_data, bytes):
            captured[file_name] = path_or_data
        return original(self, path_or_data, mimetype, coordinates, file_name=file_name, **kwargs)

    def add_deferred(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        if file_name:
            captured[file_name] = data_callable
        return original_deferred(
            self, data_callable, mimetype, coordinates, file_name=file_name, **kwargs
        )

    monkeypatch.setattr(MediaFileManager, "add", add)
    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    return captured


def read_download(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)


def first_with(warehouse: Path, sql: str):
    df = mart(warehouse, sql)
    if df.empty:
        pytest.skip(f"the test warehouse has no row for: {sql}")
    return df.iloc[0, 0]


# --------------------------------------------------------------------------------------------
# Every page


@pytest.mark.parametrize("page", list(PAGES))
def test_page_renders_without_exception(warehouse, page):
    at = open_page(page)
    assert at.title, f"{page} shows no title"
    assert not at.error, [e.value for e in at.error]


# --------------------------------------------------------------------------------------------
# 1 Overview


def test_overview_figures_equal_the_marts(warehouse):
    at = open_page("overview")
    stock = mart(
        warehouse,
        "select sum(quantity_on_hand) q, sum(value_on_hand) v from marts.fct_facility_stock",
    ).iloc[0]
    assert metric(at, "Units on hand") == ui.units(stock.q)
    assert metric(at, "Value on hand") == ui.money(stock.v)

    latest = mart_value(warehouse, "select max(month) from marts.rpt_reconciliation_monthly")
    assert at.selectbox(key="overview_month").value == pd.Timestamp(latest).date()
    recon = mart(
        warehouse,
        "select sum(non_sale_units) nsu, sum(non_sale_value) nsv, sum(expected_revenue) exp, "
        "sum(billed_revenue) bil, sum(double_billed_amount) dbl, sum(unbilled_amount) unb "
        "from marts.rpt_reconciliation_monthly where month = ?",
        [latest],
    ).iloc[0]
    assert metric(at, "Non-sale usage (units)") == ui.units(recon.nsu)
    assert metric(at, "Non-sale usage (value)") == ui.money(recon.nsv)
    assert metric(at, "Expected revenue") == ui.money(recon.exp)
    assert metric(at, "Billed revenue") == ui.money(recon.bil)
    assert metric(at, "Double-billed amount") == ui.money(recon.dbl)
    assert metric(at, "Unbilled amount") == ui.money(recon.unb)

    severities = mart(
        warehouse, "select severity, count(*) n from marts.fct_exceptions group by severity"
    )
    for row in severities.itertuples():
        assert metric(at, f"{row.severity.capitalize()} severity") == ui.units(row.n)


def test_overview_month_selector_changes_the_figures(warehouse):
    months = mart(
        warehouse,
        "select month, sum(non_sale_units) nsu, sum(expected_revenue) exp "
        "from marts.rpt_reconciliation_monthly group by month order by month",
    )
    if len(months) < 2:
        pytest.skip("needs two months of reconciliation")
    at = open_page("overview")
    for row in months.itertuples():
        at.selectbox(key="overview_month").set_value(pd.Timestamp(row.month).date())
        rerun(at)
        assert metric(at, "Non-sale usage (units)") == ui.units(row.nsu)
        assert metric(at, "Expected revenue") == ui.money(row.exp)


def test_overview_names_the_build_and_its_deliveries(warehouse):
    at = open_page("overview")
    files = mart_value(warehouse, "select count(*) from audit.ingested_files")
    text = " ".join(m.value for m in at.markdown)
    assert f"from **{ui.units(files)}** delivered files" in text
    assert "Published" in text
    deliveries = at.dataframe[-1].value
    assert sorted(deliveries["source_file"]) == sorted(
        mart(warehouse, "select source_file from audit.ingested_files")["source_file"]
    )


# --------------------------------------------------------------------------------------------
# 2 Facility stock

ON_HAND = """
    select fs.*, inv.catalog_number, inv.lot_number, inv.expiration_date
    from marts.fct_facility_stock fs
    join marts.fct_inventory_status inv using (item_id)
    where fs.quantity_on_hand > 0
"""


def test_facility_stock_totals_equal_the_marts(warehouse):
    at = open_page("facility_stock")
    levels = mart(
        warehouse,
        "select sum(quantity_on_hand) q, sum(value_on_hand) v from marts.rpt_stock_levels",
    ).iloc[0]
    assert metric(at, "Units on hand") == ui.units(levels.q)
    assert metric(at, "Value on hand") == ui.money(levels.v)
    on_hand = mart(warehouse, ON_HAND)
    assert metric(at, "Items") == ui.units(len(on_hand))
    expiring = on_hand[
        on_hand["expiration_date"] <= pd.Timestamp.today().normalize() + pd.Timedelta(days=90)
    ]
    assert metric(at, "Units expiring within 90 days") == ui.units(
        expiring["quantity_on_hand"].sum()
    )
    shown = table(at, "fs_levels_table")
    expected = mart(
        warehouse,
        "select facility_id, catalog_number, quantity_on_hand from marts.rpt_stock_levels",
    )
    merged = shown.merge(expected, on=["facility_id", "catalog_number"], suffixes=("", "_mart"))
    assert len(merged) == len(shown) == len(expected)
    assert (merged["quantity_on_hand"] == merged["quantity_on_hand_mart"]).all()
    items = table(at, "fs_items_table")
    assert sorted(items["item_id"]) == sorted(on_hand["item_id"])
    assert not any("Showing" in c.value for c in at.caption)
    for column in ("seller_id", "days_on_shelf", "expiration_date", "stocking_order_id"):
        assert column in items.columns


def test_facility_stock_facility_filter(warehouse):
    facility = first_with(
        warehouse, f"select facility_id from ({ON_HAND}) group by 1 order by count(*) limit 1"
    )
    at = open_page("facility_stock")
    at.multiselect(key="fs_facility").set_value([facility])
    rerun(at)
    expected = mart(warehouse, f"select * from ({ON_HAND}) where facility_id = ?", [facility])
    assert metric(at, "Units on hand") == ui.units(expected["quantity_on_hand"].sum())
    assert metric(at, "Value on hand") == ui.money(expected["value_on_hand"].sum())
    assert metric(at, "Items") == ui.units(len(expected))
    items = table(at, "fs_items_table")
    assert sorted(items["item_id"]) == sorted(expected["item_id"])


def test_facility_stock_lot_and_expiry_filters(warehouse):
    lot = first_with(
        warehouse, f"select lot_number from ({ON_HAND}) where lot_number is not null limit 1"
    )
    at = open_page("facility_stock")
    at.text_input(key="fs_lot").set_value(lot)
    rerun(at)
    items = table(at, "fs_items_table")
    expected = mart(
        warehouse, f"select item_id from ({ON_HAND}) where lot_number ilike ?", [f"%{lot}%"]
    )
    assert sorted(items["item_id"]) == sorted(expected["item_id"])

    at.text_input(key="fs_lot").set_value("")
    at.selectbox(key="fs_expiry").set_value(90)
    rerun(at)
    expected = mart(
        warehouse,
        f"select item_id from ({ON_HAND}) where expiration_date <= current_date + interval 90 day",
    )
    if expected.empty:
        assert any("No facility-stock" in i.value for i in at.info)
    else:
        items = table(at, "fs_items_table")
        assert sorted(items["item_id"]) == sorted(expected["item_id"])


def test_facility_stock_shows_who_may_use_each_item(warehouse):
    item = first_with(
        warehouse,
        "select item_id from marts.fct_facility_stock_access group by 1 "
        "order by count(*) desc limit 1",
    )
    at = open_page("facility_stock")
    at.selectbox(key="fs_item").set_value(item)
    rerun(at)
    shown = table(at, "fs_access_table")
    expected = mart(
        warehouse,
        "select user_id, access_path from marts.fct_facility_stock_access where item_id = ?",
        [item],
    )
    assert sorted(zip(shown.user_id, shown.access_path, strict=True)) == sorted(
        zip(expected.user_id, expected.access_path, strict=True)
    )


def test_facility_stock_download_holds_every_filtered_row(warehouse, downloads):
    at = open_page("facility_stock")
    shown = table(at, "fs_items_table")
    csv = read_download(downloads["facility_stock_items.csv"])
    assert list(csv.columns) == list(shown.columns)
    assert list(csv["item_id"]) == list(shown["item_id"])  # same rows, same order
    assert sorted(csv["item_id"]) == sorted(mart(warehouse, ON_HAND)["item_id"])

    facility = first_with(
        warehouse, f"select facility_id from ({ON_HAND}) group by 1 order by count(*) limit 1"
    )
    at.multiselect(key="fs_facility").set_value([facility])
    rerun(at)
    csv = read_download(downloads["facility_stock_items.csv"])
    expected = mart(warehouse, f"select item_id from ({ON_HAND}) where facility_id = ?", [facility])
    assert sorted(csv["item_id"]) == sorted(expected["item_id"])
    assert set(csv["facility_id"]) == {facility}


# --------------------------------------------------------------------------------------------
# 3 Non-sale usage

NON_SALE = "select * from marts.fct_event_lines where usage_class = 'NON_SALE_FACILITY_STOCK'"


def test_non_sale_usage_equals_the_marts(warehouse):
    at = open_page("non_sale_usage")
    expected = mart(warehouse, NON_SALE)
    assert metric(at, "Units used") == ui.units(expected["quantity"].sum())
    assert metric(at, "Case lines") == ui.units(len(expected))
    if expected.empty:
        return
    register = table(at, "nsu_lines_table")
    sources = mart(
        warehouse,
        f"select l.event_id, l.line_no, fs.stocking_order_id, l.quantity * fs.unit_price value "
        f"from ({NON_SALE}) l left join marts.fct_facility_stock fs using (item_id)",
    )
    assert metric(at, "Value at stocking-order price") == ui.money(sources["value"].sum())
    merged = register.merge(sources, on=["event_id", "line_no"], suffixes=("", "_mart"))
    assert len(merged) == len(register) == len(sources)
    assert (merged["stocking_order_id"] == merged["stocking_order_id_mart"]).all()


def test_non_sale_usage_filters(warehouse):
    facility = first_with(warehouse, f"select facility_id from ({NON_SALE}) limit 1")
    at = open_page("non_sale_usage")
    at.multiselect(key="nsu_facility").set_value([facility])
    rerun(at)
    expected = mart(warehouse, f"{NON_SALE} and facility_id = ?", [facility])
    assert metric(at, "Units used") == ui.units(expected["quantity"].sum())
    assert set(table(at, "nsu_lines_table")["facility_id"]) == {facility}

    rep = first_with(warehouse, f"select representative_id from ({NON_SALE}) limit 1")
    at.multiselect(key="nsu_facility").set_value([])
    at.multiselect(key="nsu_rep").set_value([rep])
    rerun(at)
    expected = mart(warehouse, f"{NON_SALE} and representative_id = ?", [rep])
    assert metric(at, "Case lines") == ui.units(len(expected))

    day = pd.Timestamp(first_with(warehouse, f"select min(event_date) from ({NON_SALE})"))
    at.multiselect(key="nsu_rep").set_value([])
    at.date_input(key="nsu_dates").set_value((day.date(), day.date()))
    rerun(at)
    expected = mart(warehouse, f"{NON_SALE} and event_date::date = ?", [day.date()])
    assert metric(at, "Case lines") == ui.units(len(expected))


def test_non_sale_usage_download_holds_every_filtered_line(warehouse, downloads):
    at = open_page("non_sale_usage")
    shown = table(at, "nsu_lines_table")
    csv = read_download(downloads["non_sale_usage.csv"])
    assert list(csv.columns) == list(shown.columns)
    assert len(csv) == len(mart(warehouse, NON_SALE))

    facility = first_with(warehouse, f"select facility_id from ({NON_SALE}) limit 1")
    at.multiselect(key="nsu_facility").set_value([facility])
    rerun(at)
    csv = read_download(downloads["non_sale_usage.csv"])
    expected = mart(warehouse, f"{NON_SALE} and facility_id = ?", [facility])
    assert sorted(zip(csv["event_id"], csv["line_no"].astype(int), strict=True)) == sorted(
        zip(expected["event_id"], expected["line_no"].astype(int), strict=True)
    )


@pytest.mark.parametrize(
    ("page", "table_key", "file_name", "key_column", "total_sql"),
    [
        ("facility_stock", "fs_items_table", "facility_stock_items.csv", "item_id",
         f"select count(*) from ({ON_HAND})"),
        ("non_sale_usage", "nsu_lines_table", "non_sale_usage.csv", "event_id",
         f"select count(*) from ({NON_SALE})"),
    ],
)  # fmt: skip
def test_detail_tables_are_capped_with_a_note(
    warehouse, downloads, monkeypatch, page, table_key, file_name, key_column, total_sql
):
    """Above the cap the page shows the first rows and says so; the CSV still has them all."""
    total = int(mart_value(warehouse, total_sql))
    cap = 5
    if total <= cap:
        pytest.skip("the test warehouse has too few rows to exceed the cap")
    monkeypatch.setattr(connection, "DETAIL_ROW_CAP", cap)
    at = open_page(page)
    shown = table(at, table_key)
    assert len(shown) == cap
    captions = [c.value for c in at.caption]
    assert any(f"Showing {cap:,} of {total:,} rows" in c and f"has all {total:,}" in c
               for c in captions), captions  # fmt: skip
    csv = read_download(downloads[file_name])
    assert len(csv) == total
    assert list(csv[key_column].head(cap)) == list(shown[key_column])  # the first rows shown


# --------------------------------------------------------------------------------------------
# 4 Finance reconciliation

RECON_SUMS = (
    "select sum(expected_revenue) exp, sum(billed_revenue) bil, sum(double_billed_amount) dbl, "
    "sum(unbilled_amount) unb, sum(stocking_order_revenue) so, sum(case_sale_revenue) cs "
    "from marts.rpt_reconciliation_monthly"
)


def test_finance_totals_equal_the_marts(warehouse):
    at = open_page("finance")
    sums = mart(warehouse, RECON_SUMS).iloc[0]
    assert metric(at, "Expected revenue") == ui.money(sums.exp)
    assert metric(at, "Billed revenue") == ui.money(sums.bil)
    assert metric(at, "Double-billed amount") == ui.money(sums.dbl)
    assert metric(at, "Unbilled amount") == ui.money(sums.unb)
    assert metric(at, "Stocking-order revenue") == ui.money(sums.so)
    assert metric(at, "Case sale revenue") == ui.money(sums.cs)
    shown = table(at, "fin_table")
    assert len(shown) == mart_value(
        warehouse, "select count(*) from marts.rpt_reconciliation_monthly"
    )


def test_finance_facility_and_month_filters(warehouse):
    facility = first_with(
        warehouse,
        "select facility_id from marts.rpt_reconciliation_monthly "
        "group by 1 order by count(*) limit 1",
    )
    at = open_page("finance")
    at.multiselect(key="fin_facility").set_value([facility])
    rerun(at)
    sums = mart(warehouse, RECON_SUMS + " where facility_id = ?", [facility]).iloc[0]
    assert metric(at, "Expected revenue") == ui.money(sums.exp)
    assert set(table(at, "fin_table")["facility_id"]) == {facility}

    month = first_with(warehouse, "select max(month) from marts.rpt_reconciliation_monthly")
    at.multiselect(key="fin_facility").set_value([])
    at.selectbox(key="fin_from").set_value(pd.Timestamp(month).date())
    rerun(at)
    sums = mart(warehouse, RECON_SUMS + " where month >= ?", [month]).iloc[0]
    assert metric(at, "Billed revenue") == ui.money(sums.bil)


def test_finance_drill_down_lists_the_billing_exceptions(warehouse, downloads):
    at = open_page("finance")
    expected = mart(
        warehouse,
        "select x.code, x.event_id, x.line_no, l.billed_amount from marts.fct_exceptions x "
        "join marts.fct_event_lines l using (event_id, line_no) "
        "where x.code in ('DOUBLE_BILLED', 'UNBILLED_SALE')",
    )
    if expected.empty:
        assert any("double-billed or unbilled" in i.value for i in at.info)
        return
    shown = table(at, "fin_lines_table")
    key = ["code", "event_id", "line_no"]
    assert sorted(map(tuple, shown[key].values.tolist())) == sorted(
        map(tuple, expected[key].values.tolist())
    )
    csv = read_download(downloads["billing_problem_lines.csv"])
    assert list(csv["event_id"]) == list(shown["event_id"])

    at.radio(key="fin_problem").set_value("Double billed")
    rerun(at)
    doubles = expected[expected.code == "DOUBLE_BILLED"]
    if doubles.empty:
        assert any("double-billed or unbilled" in i.value for i in at.info)
    else:
        shown = table(at, "fin_lines_table")
        assert set(shown["code"]) == {"DOUBLE_BILLED"}
        assert ui.money(shown["billed_amount"].sum()) == ui.money(doubles.billed_amount.sum())


def test_finance_csv_holds_the_rows_shown(warehouse, downloads):
    at = open_page("finance")
    shown = table(at, "fin_table")
    csv = read_download(downloads["reconciliation_monthly.csv"])
    assert list(csv.columns) == list(shown.columns)
    assert list(csv["facility_id"]) == list(shown["facility_id"])
    assert [float(v) for v in csv["expected_revenue"]] == pytest.approx(
        shown["expected_revenue"].astype(float).tolist()
    )


# --------------------------------------------------------------------------------------------
# 5 Sales and commission


SALES_SUMS = (
    "select sum(amount) a, sum(commission_amount) c, count(distinct representative_id) r "
    "from marts.fct_sales"
)


def test_sales_default_to_the_latest_month(warehouse):
    at = open_page("sales")
    latest = mart_value(warehouse, "select max(date_trunc('month', sold_at)) from marts.fct_sales")
    assert at.selectbox(key="sales_month").value == pd.Timestamp(latest).date()
    sums = mart(warehouse, SALES_SUMS + " where date_trunc('month', sold_at) = ?", [latest]).iloc[0]
    assert metric(at, "Sales") == ui.money(sums.a)
    assert metric(at, "Commission due") == ui.money(sums.c)


def test_sales_and_commission_equal_the_marts(warehouse):
    at = open_page("sales")
    select_all_months(at)
    rerun(at)
    sums = mart(warehouse, SALES_SUMS).iloc[0]
    assert metric(at, "Sales") == ui.money(sums.a)
    assert metric(at, "Commission due") == ui.money(sums.c)
    assert metric(at, "Representatives") == ui.units(sums.r)
    by_rep = table(at, "sales_rep_table")
    expected = mart(
        warehouse,
        "select representative_id, sum(commission_amount) c from marts.fct_sales group by 1",
    )
    merged = by_rep.merge(expected, on="representative_id")
    assert len(merged) == len(expected)
    assert merged["commission_amount"].astype(float).tolist() == pytest.approx(
        merged["c"].astype(float).tolist()
    )


def test_sales_rep_filter(warehouse):
    rep = first_with(warehouse, "select representative_id from marts.fct_sales limit 1")
    at = open_page("sales")
    select_all_months(at)
    rerun(at)  # the representative options are those with sales in the chosen month
    at.multiselect(key="sales_reps").set_value([rep])
    rerun(at)
    lines = table(at, "sales_lines_table")
    assert set(lines["representative_id"]) == {rep}
    assert len(lines) == mart_value(
        warehouse, "select count(*) from marts.fct_sales where representative_id = ?", [rep]
    )


# --------------------------------------------------------------------------------------------
# 6 Item trace


def test_item_trace_asks_for_an_item_first(warehouse):
    at = open_page("item_trace")
    assert any("Enter an item id" in i.value for i in at.info)


def test_item_trace_follows_an_item(warehouse):
    item = first_with(
        warehouse,
        "select item_id from marts.fct_custody_intervals group by 1 "
        "order by count(*) desc, item_id limit 1",
    )
    at = open_page("item_trace")
    at.text_input(key="trace_query").set_value(item)
    rerun(at)
    assert at.selectbox(key="trace_item").value == item
    custody = table(at, "trace_custody_table")
    expected = mart(
        warehouse,
        "select custodian_id from marts.fct_custody_intervals where item_id = ? "
        "order by valid_from",
        [item],
    )
    assert list(custody["custodian_id"]) == list(expected["custodian_id"])
    now = mart_value(
        warehouse, "select custodian_id from marts.fct_inventory_status where item_id = ?", [item]
    )
    assert metric(at, "Custodian now") == str(now)
    lines = mart_value(
        warehouse, "select count(*) from marts.fct_event_lines where item_id = ?", [item]
    )
    if lines:
        assert len(table(at, "trace_events_table")) == lines


def test_item_trace_finds_a_lot(warehouse):
    lot = first_with(
        warehouse,
        "select lot_number from marts.fct_inventory_status where lot_number is not null limit 1",
    )
    at = open_page("item_trace")
    at.text_input(key="trace_query").set_value(lot)
    rerun(at)
    matches = table(at, "trace_matches_table")
    expected = mart(
        warehouse,
        "select item_id from marts.fct_inventory_status where lot_number ilike ? "
        "or item_id ilike ? or serial_number ilike ?",
        [f"%{lot}%"] * 3,
    )
    assert sorted(matches["item_id"]) == sorted(expected["item_id"])
    if len(expected) > 1:
        lines = mart_value(
            warehouse,
            "select count(*) from marts.fct_event_lines where list_contains(?, item_id)",
            [expected["item_id"].tolist()],
        )
        if lines:
            assert len(table(at, "trace_all_events_table")) == lines


def test_item_trace_unknown_item(warehouse):
    at = open_page("item_trace")
    at.text_input(key="trace_query").set_value("no-such-item-zz9")
    rerun(at)
    assert any("No item matches" in w.value for w in at.warning)


# --------------------------------------------------------------------------------------------
# 7 Exceptions


def test_exceptions_counts_and_filters(warehouse, downloads):
    at = open_page("exceptions")
    assert metric(at, "Exceptions") == ui.units(
        mart_value(warehouse, "select count(*) from marts.fct_exceptions")
    )
    csv = read_download(downloads["exceptions.csv"])
    assert len(csv) == len(table(at, "exc_table"))

    severity = first_with(warehouse, "select severity from marts.fct_exceptions limit 1")
    at.multiselect(key="exc_severity").set_value([severity])
    rerun(at)
    expected = mart_value(
        warehouse, "select count(*) from marts.fct_exceptions where severity = ?", [severity]
    )
    assert metric(at, "Exceptions") == ui.units(expected)
    assert set(table(at, "exc_table")["severity"]) == {severity}

    code = first_with(warehouse, "select code from marts.fct_exceptions limit 1")
    at.multiselect(key="exc_severity").set_value([])
    at.multiselect(key="exc_code").set_value([code])
    rerun(at)
    shown = table(at, "exc_table")
    assert set(shown["code"]) == {code}
    assert len(shown) == mart_value(
        warehouse, "select count(*) from marts.fct_exceptions where code = ?", [code]
    )
    csv = read_download(downloads["exceptions.csv"])
    assert list(csv["code"]) == list(shown["code"])


# --------------------------------------------------------------------------------------------
# 8 Data quality


def test_data_quality_equals_the_audit(warehouse, downloads):
    at = open_page("data_quality")
    files = mart(warehouse, "select * from audit.ingested_files")
    assert metric(at, "Files delivered") == ui.units(len(files))
    assert metric(at, "Rows rejected") == ui.units(files["rows_rejected"].sum())
    rejected = mart(warehouse, "select * from audit.rejected_rows")
    if rejected.empty:
        assert any("No rows were rejected" in s.value for s in at.success)
        return
    shown = table(at, "dq_rejected_table")
    assert len(shown) == len(rejected)
    assert "reasons" in shown.columns
    csv = read_download(downloads["rejected_rows.csv"])
    assert len(csv) == len(shown)

    entity = rejected["entity"].iloc[0]
    at.multiselect(key="dq_entity").set_value([entity])
    rerun(at)
    shown = table(at, "dq_rejected_table")
    assert set(shown["entity"]) == {entity}
    assert len(shown) == (rejected["entity"] == entity).sum()


# --------------------------------------------------------------------------------------------
# 9 SQL page

FORBIDDEN = {
    "insert": "insert into marts.fct_sales select * from marts.fct_sales",
    "update": "update marts.fct_sales set amount = 0",
    "delete": "delete from marts.fct_sales",
    "create": "create table marts.x as select 1",
    "drop": "drop table marts.fct_sales",
    "alter": "alter table marts.fct_sales add column x int",
    "attach": "attach '/tmp/other.duckdb' as other",
    "detach": "detach custodia",
    "copy": "copy marts.fct_sales to '/tmp/out.csv'",
    "export": "export database '/tmp/dump'",
    "read_csv": "select * from read_csv('/etc/passwd')",
    "read_parquet": "select * from read_parquet('/tmp/x.parquet')",
    "glob": "select * from glob('/etc/*')",
    "file_as_table": "select * from '/etc/passwd'",
    "read_text": "select * from read_text('/etc/hostname')",
    "install": "install httpfs",
    "load": "load httpfs",
    "set": "set enable_external_access = true",
    "reset": "reset threads",
    "use": "use main",
    "pragma": "pragma database_list",
    "call": "call pragma_version()",
    "checkpoint": "checkpoint",
    "multiple_statements": "select 1; select 2",
    "smuggled_second_statement": "select * from marts.fct_sales; drop table marts.fct_sales",
    "other_schema": "select * from raw.events",
    "other_database": "select * from other.marts.fct_sales",
    "transaction": "begin transaction",
}


def run_sql(at: AppTest, sql: str) -> AppTest:
    at.text_area(key="sql_text").set_value(sql)
    at.button(key="sql_run").click()
    return rerun(at)


@pytest.mark.parametrize("kind", list(FORBIDDEN))
def test_sql_page_refuses(warehouse, kind):
    at = run_sql(open_page("sql"), FORBIDDEN[kind])
    assert len(at.error) == 1, f"{kind} was not refused"
    message = at.error[0].value
    assert message.startswith(("Refused", "One statement")), message
    assert not any(c.key == "sql_result_table" for c in at.container)


def test_sql_page_answers_a_select(warehouse, downloads):
    sql = "select facility_id, count(*) n from fct_facility_stock group by 1 order by 1"
    at = run_sql(open_page("sql"), sql)
    assert not at.error, [e.value for e in at.error]
    shown = table(at, "sql_result_table")
    expected = mart(warehouse, sql.replace("from fct_", "from marts.fct_"))
    assert shown["facility_id"].tolist() == expected["facility_id"].tolist()
    assert shown["n"].tolist() == expected["n"].tolist()
    assert any(f"{len(expected):,} rows in" in c.value for c in at.caption)
    csv = read_download(downloads["query_result.csv"])
    assert csv["facility_id"].tolist() == expected["facility_id"].tolist()


def test_sql_answer_survives_reruns_until_the_query_changes(warehouse):
    at = run_sql(open_page("sql"), "select count(*) as n from fct_sales")
    rerun(at)  # e.g. another widget changed
    assert table(at, "sql_result_table")["n"].iloc[0] == mart_value(
        warehouse, "select count(*) from marts.fct_sales"
    )
    at.text_area(key="sql_text").set_value("select 1 as other")
    rerun(at)
    assert not any(c.key == "sql_result_table" for c in at.container)


def test_sql_page_reads_the_audit_and_ctes(warehouse):
    at = run_sql(
        open_page("sql"),
        "with f as (select * from audit.ingested_files) select count(*) as files from f",
    )
    assert not at.error, [e.value for e in at.error]
    assert table(at, "sql_result_table")["files"].iloc[0] == mart_value(
        warehouse, "select count(*) from audit.ingested_files"
    )


def test_sql_page_caps_results(warehouse, monkeypatch):
    monkeypatch.setenv("CUSTODIA_SQL_MAX_ROWS", "50")
    at = run_sql(open_page("sql"), "select * from range(60)")
    assert len(table(at, "sql_result_table")) == 50
    assert any("capped at the 50-row limit" in w.value for w in at.warning)
    assert any("50 rows" in c.value for c in at.caption)  # the caption states the limits


def test_sql_page_names_the_limit_that_stopped_a_query(warehouse, monkeypatch):
    monkeypatch.setenv("CUSTODIA_SQL_SECONDS", "1")
    at = run_sql(open_page("sql"), "select count(*) from range(1000000000000) a")
    assert any("1 s time limit" in e.value for e in at.error), [e.value for e in at.error]
    monkeypatch.setenv("CUSTODIA_SQL_SECONDS", "10")
    at = run_sql(open_page("sql"), "select repeat('x', 2000000000) as s")
    assert any("memory limit" in e.value for e in at.error), [e.value for e in at.error]


def test_sql_page_cuts_long_cells_and_says_so(warehouse):
    at = run_sql(open_page("sql"), "select repeat('x', 3000) as s from range(2)")
    assert set(table(at, "sql_result_table")["s"].str.len()) == {2049}
    assert any("2 cells longer than 2,048 characters" in i.value for i in at.info)


def test_sql_page_misconfigured_limit_is_named(warehouse, monkeypatch):
    monkeypatch.setenv("CUSTODIA_SQL_MEMORY_MB", "lots")
    at = open_page("sql")
    assert any("CUSTODIA_SQL_MEMORY_MB" in e.value for e in at.error)


def test_sql_time_limit_interrupts(warehouse):
    with pytest.raises(analyst.RefusedQuery, match="time limit") as stopped:
        analyst.run_analyst_query(
            "select count(*) from range(1000000000000) a", limits=sandbox.Limits(seconds=0.3)
        )
    assert stopped.value.limit == "time"


def test_sql_page_schema_browser_lists_marts_with_descriptions(warehouse):
    at = open_page("sql")
    labels = [e.label for e in at.expander]
    tables = mart(
        warehouse,
        "select table_schema || '.' || table_name t from information_schema.tables "
        "where table_schema in ('marts', 'audit')",
    )["t"]
    for table in tables:
        assert any(label.startswith(table) for label in labels), table
    described = mart(
        warehouse,
        "select schema_name || '.' || table_name t, comment from duckdb_tables() "
        "where comment is not null and schema_name = 'marts'",
    )
    for row in described.itertuples():
        assert f"{row.t} — {row.comment}" in labels


def test_engine_refuses_what_a_check_might_miss(warehouse):
    """Defence in depth: the connection itself cannot reach files, write, or change settings."""
    con = connection.connect()
    try:
        with pytest.raises(duckdb.PermissionException):
            con.execute("select * from read_csv('/etc/passwd')")
        with pytest.raises(duckdb.Error):
            con.execute("set enable_external_access = true")
        with pytest.raises(duckdb.Error):
            con.execute("create table marts.x (a int)")
    finally:
        con.close()


def test_overlapping_connections_share_one_configuration(warehouse):
    """Two queries at once in one process (two users, or a long console query) both work."""
    sales = mart_value(warehouse, "select count(*) from marts.fct_sales")
    exceptions = mart_value(warehouse, "select count(*) from marts.fct_exceptions")
    first = connection.connect()
    try:
        second = connection.connect()
        try:
            assert second.execute("select count(*) from fct_sales").fetchone()[0] == sales
            with pytest.raises(duckdb.Error):
                second.execute("set enable_external_access = true")
        finally:
            second.close()
        result = analyst.run_analyst_query("select count(*) as n from fct_exceptions")
        assert result.frame["n"].iloc[0] == exceptions
        assert first.execute("select count(*) from fct_sales").fetchone()[0] == sales
    finally:
        first.close()


@pytest.mark.parametrize(
    "sql",
    [
        "select * from fct_sales",
        "describe marts.fct_sales",
        "with s as (select * from marts.fct_sales) select count(*) from s",
        "select * from range(3)",
        "select (select count(*) from audit.rejected_rows) as n",
    ],
)
def test_sql_check_allows_reads_of_the_marts(sql):
    assert analyst.check_analyst_sql(sql)


# --------------------------------------------------------------------------------------------
# Missing, empty or busy warehouse


@pytest.mark.parametrize("page", list(PAGES))
def test_missing_warehouse_says_how_to_build_it(tmp_path, monkeypatch, page):
    monkeypatch.setenv("CUSTODIA_WAREHOUSE", str(tmp_path / "nowhere.duckdb"))
    at = open_page(page)
    assert any("custodia build" in w.value and "make run" in w.value for w in at.warning)


def test_warehouse_without_marts_says_how_to_build_it(tmp_path, monkeypatch):
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    monkeypatch.setenv("CUSTODIA_WAREHOUSE", str(path))
    at = open_page("finance")
    assert any("no marts yet" in w.value for w in at.warning)


def test_not_a_duckdb_file_says_how_to_build_it(tmp_path, monkeypatch):
    path = tmp_path / "garbage.duckdb"
    path.write_bytes(b"this is not a database" * 100)
    monkeypatch.setenv("CUSTODIA_WAREHOUSE", str(path))
    at = open_page("overview")
    assert any("custodia build" in w.value for w in at.warning)


def test_empty_marts_show_zeroes_not_errors(tmp_path, monkeypatch):
    path = build_fixture_warehouse(tmp_path / "custodia.duckdb")
    con = duckdb.connect(str(path))
    for schema, table in con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ('marts', 'audit')"
    ).fetchall():
        con.execute(f"delete from {schema}.{table}")
    con.close()
    monkeypatch.setenv("CUSTODIA_WAREHOUSE", str(path))
    for page in PAGES:
        at = open_page(page)
        assert not at.error, (page, [e.value for e in at.error])
    at = open_page("overview")
    assert metric(at, "Units on hand") == "0"


def test_item_attributes_are_read_off_the_marts_that_carry_them(tmp_path, monkeypatch):
    """Facility stock and non-sale usage read lot, serial and expiry off their own marts, never
    the item table (fct_inventory_status); the item trace reads that table, and a copy of it
    without them gets the "lack a column" message, as any mart short of its contract does."""
    path = build_fixture_warehouse(tmp_path / "custodia.duckdb")
    con = duckdb.connect(str(path))
    for column in ("lot_number", "serial_number", "expiration_date"):
        con.execute(f"alter table marts.fct_inventory_status drop column {column}")
    con.close()
    monkeypatch.setenv("CUSTODIA_WAREHOUSE", str(path))
    for page in ("facility_stock", "non_sale_usage"):
        at = open_page(page)
        # the fixture's deliveries are old, so the header's stale-feed warning is expected
        warnings = [w.value for w in at.warning if not w.value.startswith("Stale feeds")]
        assert not warnings and not at.error, page
    at = open_page("facility_stock")
    assert metric(at, "Units on hand") == ui.units(
        mart_value(path, "select sum(quantity_on_hand) from marts.fct_facility_stock")
    )
    at = open_page("item_trace")
    at.text_input(key="trace_query").set_value("I-0")
    rerun(at)
    assert any("lack a column" in w.value for w in at.warning), [w.value for w in at.warning]


def test_a_mart_without_an_expected_column_gives_a_message(tmp_path, monkeypatch):
    path = build_fixture_warehouse(tmp_path / "custodia.duckdb")
    con = duckdb.connect(str(path))
    con.execute("alter table marts.fct_sales drop column commission_amount")
    con.close()
    monkeypatch.setenv("CUSTODIA_WAREHOUSE", str(path))
    at = open_page("sales")
    assert any("lack a column" in w.value and "commission_amount" in w.value for w in at.warning)


def test_rebuilt_warehouse_is_picked_up(tmp_path, monkeypatch):
    """The build replaces the file (os.replace); the next rerun reads the new one."""
    path = build_fixture_warehouse(tmp_path / "custodia.duckdb")
    monkeypatch.setenv("CUSTODIA_WAREHOUSE", str(path))
    at = open_page("overview")
    before = metric(at, "Units on hand")
    staged = build_fixture_warehouse(tmp_path / "staging" / "custodia.duckdb")
    con = duckdb.connect(str(staged))
    con.execute(
        "update marts.fct_facility_stock set quantity_on_hand = quantity_on_hand + 1 "
        "where quantity_on_hand > 0"
    )
    expected = con.execute("select sum(quantity_on_hand) from marts.fct_facility_stock").fetchone()
    con.close()
    os.replace(staged, path)
    rerun(at)
    assert metric(at, "Units on hand") == ui.units(expected[0]) != before


def test_monthly_charts_read_the_same_figures_off_the_monthly_marts(warehouse):
    """The sales and non-sale charts read the build's monthly aggregates: the same frame, to
    the dtype, as aggregating the ledger or usage lines when the page loads."""
    from dashboards.queries import non_sale_usage, sales

    by_month = sales.sales_by_month()
    expected = mart(
        warehouse,
        """
        select date_trunc('month', sold_at)::date as month, representative_id,
               sum(amount) as amount, sum(commission_amount) as commission_amount
        from marts.fct_sales
        group by all
        order by month, representative_id
        """,
    )
    assert len(by_month) > 10
    pd.testing.assert_frame_equal(by_month, expected, check_exact=True)
    assert sales.sales_months() == sorted(
        {pd.Timestamp(m).date() for m in expected["month"].dropna()}, reverse=True
    )
    reps = list(by_month["representative_id"].unique()[:3])
    for facilities, representatives in [((), ()), ((), reps)]:
        monthly = non_sale_usage.non_sale_by_month(facilities, representatives)
        # a date range far outside the data cuts nothing: the page aggregates the lines
        of_lines = non_sale_usage.non_sale_by_month(
            facilities, representatives, date(1900, 1, 1), date(2999, 12, 31)
        )
        assert len(monthly) > 0
        pd.testing.assert_frame_equal(monthly, of_lines, check_exact=True)


def test_a_page_opens_the_warehouse_once(tmp_path, monkeypatch):
    """A page's queries share one kept connection: the file is opened once, not per query."""
    path = build_fixture_warehouse(tmp_path / "custodia.duckdb")
    monkeypatch.setenv("CUSTODIA_WAREHOUSE", str(path))
    opened = []
    real_connect = connection.connect
    monkeypatch.setattr(connection, "connect", lambda p=None: opened.append(p) or real_connect(p))
    connection._cached_query.clear()
    at = open_page("facility_stock")
    assert not at.error
    assert len(opened) == 1


def test_the_kept_connection_follows_a_rebuild_and_lets_go_when_idle(tmp_path, monkeypatch):
    """The kept connection is dropped when the file is replaced (the next query reads the new
    build), and closed once idle, so another process may then open the file to write."""
    path = build_fixture_warehouse(tmp_path / "custodia.duckdb")
    monkeypatch.setenv("CUSTODIA_WAREHOUSE", str(path))
    monkeypatch.setattr(connection, "KEEP_OPEN_SECONDS", 0.3)
    sql = "select sum(quantity_on_hand) as q from marts.fct_facility_stock"
    old = connection.query(sql, cached=False)["q"].iloc[0]
    staged = build_fixture_warehouse(tmp_path / "staging" / "custodia.duckdb")
    con = duckdb.connect(str(staged))
    con.execute("update marts.fct_facility_stock set quantity_on_hand = quantity_on_hand + 5")
    new = con.execute(sql).fetchone()[0]
    con.close()
    assert new != old
    os.replace(staged, path)
    assert connection.query(sql, cached=False)["q"].iloc[0] == new
    writer = [sys.executable, "-c", f"import duckdb; duckdb.connect({str(path)!r}).close()"]
    assert subprocess.run(writer, capture_output=True).returncode != 0  # held while in use
    time.sleep(1.0)
    assert connection._kept is None
    subprocess.run(writer, check=True, capture_output=True)  # idle: the file is free


def test_a_rebuild_during_a_long_query_does_not_poison_the_cache(tmp_path, monkeypatch):
    """While a connection to the old file is open, DuckDB hands new connections the old
    instance; what they read must not be cached as the new warehouse."""
    path = build_fixture_warehouse(tmp_path / "custodia.duckdb")
    monkeypatch.setenv("CUSTODIA_WAREHOUSE", str(path))
    sql = "select sum(quantity_on_hand) as q from marts.fct_facility_stock"
    old = connection.query(sql)["q"].iloc[0]
    staged = build_fixture_warehouse(tmp_path / "staging" / "custodia.duckdb")
    con = duckdb.connect(str(staged))
    con.execute("update marts.fct_facility_stock set quantity_on_hand = quantity_on_hand + 5")
    new = con.execute(sql).fetchone()[0]
    con.close()
    with connection._session(path):  # e.g. an analyst's query still running on the old build
        os.replace(staged, path)
        during = connection.query(sql)["q"].iloc[0]
        assert during in (old, new)  # either build, whole
    assert connection.query(sql)["q"].iloc[0] == new


def _hold_write_lock(path: Path, seconds: float) -> subprocess.Popen:
    script = textwrap.dedent(
        f"""
        import duckdb, sys, time
        con = duckdb.connect({str(path)!r})
        print("locked", flush=True)
        time.sleep({seconds})
        con.close()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_locked_warehouse_is_retried_then_read(tmp_path, monkeypatch):
    path = build_fixture_warehouse(tmp_path / "custodia.duckdb")
    monkeypatch.setenv("CUSTODIA_WAREHOUSE", str(path))
    proc = _hold_write_lock(path, 0.8)
    try:
        started = time.monotonic()
        con = connection.connect()
        con.close()
        assert time.monotonic() - started > 0.1  # it had to wait for the writer
    finally:
        proc.wait(timeout=30)


def test_busy_warehouse_shows_a_message(tmp_path, monkeypatch):
    path = build_fixture_warehouse(tmp_path / "custodia.duckdb")
    monkeypatch.setenv("CUSTODIA_WAREHOUSE", str(path))
    monkeypatch.setattr(connection, "_OPEN_ATTEMPTS", 2)
    proc = _hold_write_lock(path, 20)
    try:
        at = open_page("overview")
        assert any("being written by a build" in i.value for i in at.info)
    finally:
        proc.kill()
        proc.wait(timeout=30)


# --------------------------------------------------------------------------------------------
# CSV safety


def test_csv_neutralises_spreadsheet_formulas():
    frame = pd.DataFrame(
        {
            "text": ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", "plain", None],
            "number": [-5, 1, 2, 3, 4, 5, 6, 7],
        }
    )
    out = read_download(ui.safe_csv(frame))
    assert out["text"].tolist() == [
        "'=1+1",
        "'+SUM(A1)",
        "'-2+3",
        "'@cmd",
        "'\tx",
        "'\rx",
        "plain",
        "",
    ]
    assert out["number"].tolist()[0] == "-5"  # numbers stay numbers


def test_downloaded_names_are_neutralised(warehouse, downloads):
    at = open_page("sales")
    select_all_months(at)
    rerun(at)
    shown = table(at, "sales_lines_table")
    csv = read_download(downloads["sales_lines.csv"])
    risky = [n for n in shown["representative_name"].dropna() if n[:1] in "=+-@"]
    for name in risky:
        assert "'" + name in set(csv["representative_name"])
    assert len(csv) == len(shown)


def test_month_label():
    assert ui.month_label(date(2026, 11, 1)) == "November 2026"


# --------------------------------------------------------------------------------------------
# Results into pandas


@pytest.mark.parametrize(
    "sql",
    [
        "select 'a' as t, null::varchar as n, 1.5::decimal(18, 2) as d, date '2026-01-02' as day,"
        " timestamp '2026-01-02 03:04:05' as ts, 7::bigint as i, null::bigint as ni, true as b,"
        " [1, 2] as l, uuid 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' as u",
        "select case when x % 3 = 0 then null else 'v' || x end as t, x,"
        " case when x % 2 = 0 then x end as half from range(5000) as r(x)",
        # a large result (text through Arrow): nulls, an all-null text column, other types
        "select 'v' || x as t, case when x % 3 = 0 then null else 'w' end as w,"
        " null::varchar as n, x, x / 7 as d, (x * 1.25)::decimal(18, 2) as m,"
        " date '2026-01-01' + x::integer % 400 as day from range(30000) as r(x)",
        "select 'v' || x as t, uuid 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' as u"
        " from range(30000) as r(x)",
        "select 'a' as t, 1 as i where false",
        "select null::varchar as t from range(3)",
        "select 'a' as t, 'b' as t",
        "select 'a'::enum ('a', 'b') as e, 'a' as t, 1701411834604692317316873037158841::hugeint"
        " as h, interval 3 day as iv, {'k': 1} as st, 1.5::double as f",
        "select $x::varchar as t, $x::varchar || 'y' as u",
    ],
)
def test_frames_are_those_of_duckdb_df(sql):
    """Large results take their text columns from Arrow (faster on pandas 3); the frames are
    those of `.df()`, dtypes included."""
    con = duckdb.connect()
    params = {"x": "p"} if "$x" in sql else None
    expected = con.execute(sql, params).df()
    pd.testing.assert_frame_equal(connection._frame(con, sql, params), expected, check_exact=True)

"""The dashboard in a real browser: every page opens without an exception box.

Starts `streamlit run dashboards/app.py` on a free local port against the test warehouse,
drives Debian's Chromium through Python Playwright (never `playwright install`), and saves one
screenshot per page to docs/screenshots/<page>.png.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest
from playwright import sync_api
from proc_tree import TreePeak

from dashboards import ui
from orchestration.cli import streamlit_command

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# page file stem -> (url path, title shown)
PAGES = {
    "overview": ("", "Overview"),
    "facility_stock": ("facility_stock", "Facility stock"),
    "non_sale_usage": ("non_sale_usage", "Non-sale usage"),
    "finance": ("finance", "Finance reconciliation"),
    "sales": ("sales", "Sales and commission"),
    "item_trace": ("item_trace", "Item trace"),
    "exceptions": ("exceptions", "Exceptions"),
    "data_quality": ("data_quality", "Data quality"),
    "sql": ("sql", "SQL"),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def warehouse(sample_warehouse) -> Path:
    """The bundled sample, built by the real `custodia build` (conftest.sample_warehouse)."""
    return sample_warehouse


@contextmanager
def running_app(warehouse: Path, log_path: Path):
    """`streamlit run dashboards/app.py` on a free local port; yields its URL."""
    port = _free_port()
    command, env = streamlit_command(warehouse, "127.0.0.1", port)
    command += ["--server.fileWatcherType", "none"]
    url = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"streamlit did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.3)
            yield url, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


@pytest.fixture(scope="module")
def app(warehouse, tmp_path_factory):
    """The served dashboard: (url, server process)."""
    with running_app(warehouse, tmp_path_factory.mktemp("streamlit") / "streamlit.log") as app:
        yield app


@pytest.fixture(scope="module")
def app_url(app) -> str:
    return app[0]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():  # `make test` installs it; a bare pytest run may not have it
        pytest.fail(
            "Debian chromium is missing at /usr/bin/chromium: "
            "run `make test` (or apt-get install -y chromium)"
        )
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    tab = context.new_page()
    yield tab
    context.close()


# The script run is over when the status widget shows no running icon and the title is drawn.
RUN_FINISHED = """() =>
    !document.querySelector(
        '[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]')
    && document.querySelector('[data-testid="stMainBlockContainer"] h1')"""
FULL_HEIGHT = """() => Math.max(800, ...[...document.querySelectorAll(
    '[data-testid="stMain"], [data-testid="stAppViewContainer"]')].map(e => e.scrollHeight))"""


def _settle(tab) -> None:
    """Wait until the script run finished and the page stopped changing."""
    tab.wait_for_selector('[data-testid="stApp"]', timeout=30_000)
    tab.wait_for_function(RUN_FINISHED, timeout=60_000)
    tab.wait_for_load_state("networkidle", timeout=30_000)
    tab.wait_for_timeout(800)  # charts render after the script finishes


def _open(tab, app_url: str, name: str) -> None:
    url_path, title = PAGES[name]
    tab.goto(f"{app_url}/{url_path}", wait_until="domcontentloaded", timeout=60_000)
    _settle(tab)
    heading = tab.locator('[data-testid="stMainBlockContainer"] h1').first
    assert title in heading.inner_text()


def _shoot(tab, name: str) -> None:
    """Screenshot the whole page: Streamlit scrolls inside its main block, so grow the
    viewport to the content's height first."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = tab.evaluate(FULL_HEIGHT)
    tab.set_viewport_size({"width": 1440, "height": min(int(height) + 40, 6000)})
    tab.wait_for_timeout(600)
    tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("name", list(PAGES))
def test_page_opens_without_exception(app_url, page, name, warehouse):
    _open(page, app_url, name)
    if name == "item_trace":
        con = duckdb.connect(str(warehouse), read_only=True)
        lot = con.execute(
            "select coalesce(max(lot_number), max(item_id)) from marts.fct_inventory_status"
        ).fetchone()[0]
        con.close()
        box = page.get_by_label("Item id, serial number or lot number")
        box.fill(str(lot))
        box.press("Enter")
        page.wait_for_selector('[data-testid="stDataFrame"]', timeout=30_000)
        _settle(page)
    if name == "sql":
        page.get_by_role("button", name="Run query").click()
        page.wait_for_selector(
            '[data-testid="stCaptionContainer"]:has-text("rows in")', timeout=30_000
        )
        _settle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    _shoot(page, name)


def test_overview_figures_are_visible(app_url, page, warehouse):
    _open(page, app_url, "overview")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        units, value = con.execute(
            "select sum(quantity_on_hand), sum(value_on_hand) from marts.fct_facility_stock"
        ).fetchone()
        files = con.execute("select count(*) from audit.ingested_files").fetchone()[0]
    finally:
        con.close()
    shown = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    assert ui.units(units) in shown
    assert ui.money(value) in shown
    assert page.get_by_text(f"{ui.units(files)} delivered files").count() >= 1
    assert page.locator('[data-testid="stException"]').count() == 0


def test_missing_warehouse_message_in_browser(browser, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        with running_app(tmp_path / "missing.duckdb", tmp_path / "streamlit.log") as (url, _):
            tab = context.new_page()
            tab.goto(f"{url}/finance", wait_until="domcontentloaded", timeout=60_000)
            _settle(tab)
            assert tab.get_by_text("custodia build").count() >= 1
            assert tab.locator('[data-testid="stException"]').count() == 0
            _shoot(tab, "missing_warehouse")
    finally:
        context.close()


def test_finance_shows_a_restatement_in_browser(browser, tmp_path, restated_warehouse):
    """The sample as `make run` leaves it: a closed month restated by a late delivery."""
    con = duckdb.connect(str(restated_warehouse), read_only=True)
    try:
        billed = con.execute(
            "select sum(difference) from marts.rpt_restatements where figure = 'billed_revenue'"
        ).fetchone()[0]
    finally:
        con.close()
    assert billed, "the restated sample has a billed-revenue restatement"
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        with running_app(restated_warehouse, tmp_path / "streamlit.log") as (url, _):
            tab = context.new_page()
            _open(tab, url, "finance")
            section = tab.get_by_text("Restatements of closed months")
            section.scroll_into_view_if_needed()
            assert section.count() == 1
            shown = tab.locator('[data-testid="stMetricValue"]').all_inner_texts()
            assert ui.money(billed) in shown
            assert tab.locator('[data-testid="stException"]').count() == 0
    finally:
        context.close()


def _run_sql(tab, sql: str) -> None:
    box = tab.get_by_label("Query")
    box.fill(sql)
    box.press("Control+Enter")  # commit the text area, then run
    tab.get_by_role("button", name="Run query").click()
    tab.wait_for_selector(
        '[data-testid="stCaptionContainer"]:has-text("rows in"), [data-testid="stAlert"]',
        timeout=60_000,
    )
    _settle(tab)


# Hostile queries through the SQL page, with the default limits (10 s, 512 MiB): each answers
# within its time limit plus 5 s with a message naming the limit (or a cut, capped result), the
# server's whole process tree stays under 2 GiB, and the server keeps answering.
HOSTILE_IN_BROWSER = [
    ("select repeat('x', 2000000000) as s", "memory limit"),
    ("select string_agg(repeat('y', 50000000), '') as s from range(100)", "memory limit"),
    ("select repeat('x', 10000000) as s from range(5000)", "cut for display"),
    ("with recursive r(i) as (select 1 union all select i + 1 from r) select count(*) from r",
     "limit"),
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(("sql", "said"), HOSTILE_IN_BROWSER, ids=range(4))
def test_hostile_sql_is_bounded_and_the_server_stays_up(app, page, sql, said):
    url, server = app
    _open(page, url, "sql")
    started = time.monotonic()
    with TreePeak(server.pid) as peak:
        _run_sql(page, sql)
    elapsed = time.monotonic() - started
    alerts = " | ".join(page.locator('[data-testid="stAlert"]').all_inner_texts())
    assert said in alerts, alerts
    assert elapsed < 10 + 5, elapsed
    assert peak.peak < 2 * 1024**3, peak.peak
    assert page.locator('[data-testid="stException"]').count() == 0
    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as response:
        assert response.status == 200
    _run_sql(page, "select facility_id from dim_facilities")  # an ordinary query, right after
    assert page.get_by_text("rows in").count() >= 1


def test_full_download_is_served_from_a_file(app, page, warehouse):
    url, _ = app
    _open(page, url, "sql")
    _run_sql(page, "select event_id, line_no, usage_class from fct_event_lines")
    page.get_by_role("button", name="Prepare the full result as CSV").click()
    link = page.locator("#sql_full_link")
    link.wait_for(timeout=60_000)
    with urllib.request.urlopen(url + link.get_attribute("href"), timeout=30) as response:
        body = response.read().decode("utf-8").splitlines()
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        lines = con.execute("select count(*) from marts.fct_event_lines").fetchone()[0]
    finally:
        con.close()
    assert body[0] == '"event_id","line_no","usage_class"'
    assert len(body) == lines + 1


def test_as_of_date_picker_and_price_variance_threshold(app_url, page, warehouse):
    """The new controls in a real browser: the facility-stock page's "Stock as of" date and
    the finance page's price-variance threshold change what is shown."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        units = con.execute(
            "select coalesce(sum(quantity_on_hand), 0) from marts.fct_facility_stock_intervals "
            "where valid_from <= timestamp '2024-03-01 23:59:59.999999' "
            "and (valid_to is null or timestamp '2024-03-01 23:59:59.999999' < valid_to)"
        ).fetchone()[0]
        below = con.execute(
            "select count(*) from marts.fct_price_variance where variance_pct < -1"
        ).fetchone()[0]
    finally:
        con.close()
    _open(page, app_url, "facility_stock")
    # the date input is three spin buttons (year, month, day); typing fills a segment
    for part, digits in (("year", "2024"), ("month", "03"), ("day", "01")):
        page.get_by_role("spinbutton", name=f"{part}, Stock as of").click()
        page.keyboard.type(digits)
    page.locator('[data-testid="stMainBlockContainer"] h1').first.click()  # blur commits it
    page.wait_for_selector('[data-testid="stMetricLabel"]:has-text("Units on hand 2024-03-01")')
    _settle(page)
    metric = page.locator('[data-testid="stMetric"]:has-text("Units on hand 2024-03-01")')
    assert ui.units(units) in metric.inner_text()

    _open(page, app_url, "finance")
    threshold = page.get_by_label("List lines below list by more than (%)", exact=True).and_(
        page.get_by_test_id("stNumberInputField")
    )
    threshold.fill("1")
    threshold.press("Enter")
    page.wait_for_selector(f"text=Lines below list by more than 1 %: {below:,}", timeout=30_000)
    assert page.locator('[data-testid="stException"]').count() == 0

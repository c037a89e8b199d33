"""The dashboard in a real browser: every page opens without an exception box.

Starts `streamlit run dashboards/app.py` on a free local port against the test warehouse,
drives Debian's Chromium through Python Playwright (never `playwright install`), and saves one
screenshot per page to docs/screenshots/<page>.png.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from dashboards import ui

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

if not CHROMIUM.exists():
    pytest.skip(
        "Debian chromium is not installed at /usr/bin/chromium "
        "(apt-get install -y chromium); browser tests skipped",
        allow_module_level=True,
    )

sync_api = pytest.importorskip("playwright.sync_api")


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
    env = {**os.environ, "CUSTODIA_WAREHOUSE": str(warehouse)}
    command = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboards" / "app.py"),
        "--server.address", "127.0.0.1",
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
    ]  # fmt: skip
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
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


@pytest.fixture(scope="module")
def app_url(warehouse, tmp_path_factory):
    with running_app(warehouse, tmp_path_factory.mktemp("streamlit") / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
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
        with running_app(tmp_path / "missing.duckdb", tmp_path / "streamlit.log") as url:
            tab = context.new_page()
            tab.goto(f"{url}/finance", wait_until="domcontentloaded", timeout=60_000)
            _settle(tab)
            assert tab.get_by_text("custodia build").count() >= 1
            assert tab.locator('[data-testid="stException"]').count() == 0
            _shoot(tab, "missing_warehouse")
    finally:
        context.close()

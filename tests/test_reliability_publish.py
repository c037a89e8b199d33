"""Atomic publish and crash safety of ``custodia build``: real builds in a child process.

- While a build publishes new deliveries, a reader loops through the dashboard's query package
  (``dashboards.queries``): no read fails, and every read sees the old or the new warehouse as a
  whole (figures from the audit and from several marts, read together, always belong to one
  build), never a mix; once the new warehouse is seen, the old one never comes back.
- Values that a spreadsheet would run as formulas (ids starting with ``=``, ``+``, ``@``,
  ``-``; a facility named ``=cmd|' /C calc'!A0``), delivered in CSV exports, reach the marts
  intact and leave through every CSV download of the dashboard (``dashboards.ui.safe_csv``)
  neutralised.
- A writer that died beside the published warehouse left a write-ahead log; then the build is
  killed (SIGKILL, whole process group) at random points: while it copies the
  warehouse, during ingest, early and late in dbt, and around the publish. After each kill the
  published warehouse is the old one, untouched, or the new one, complete; a final rerun gives
  exactly what one clean build gives (raw and audit tables, every mart), and no delivered row is
  lost or loaded twice.

Kill delays are random; the seed is printed on failure and ``CUSTODIA_CRASH_SEED`` replays it.
"""

from __future__ import annotations

import csv
import io
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from histories import Landing, random_history
from oracle.builder import World
from test_ingest import snapshot

from dashboards import ui
from dashboards.queries import (
    analyst,
    connection,
    data_quality,
    exceptions,
    facility_stock,
    finance,
    non_sale_usage,
    sales,
)
from orchestration import settings
from orchestration.contract import ENTITIES
from orchestration.ingest import conservation_violations

CLI = [sys.executable, "-m", "orchestration.cli"]
FORMULA_NAME = "=cmd|' /C calc'!A0"

# Figures that must belong to one build: deliveries (audit) and three marts.
CONSISTENT_SQL = """
select
    (select count(*) from audit.ingested_files) as files,
    (select coalesce(sum(rows_loaded), 0) from audit.ingested_files) as rows_loaded,
    (select count(*) from marts.dim_users) as users,
    (select count(*) from marts.fct_sales) as sales_lines,
    (select coalesce(sum(amount), 0) from marts.fct_sales) as ledger,
    (select count(*) from marts.fct_exceptions) as exceptions
"""


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    return {**env, "PYTHONUNBUFFERED": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


def _figures(path: Path) -> tuple:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(CONSISTENT_SQL).fetchall()[0]
    finally:
        con.close()


def _state(path: Path) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return snapshot(con, ("raw", "audit", "marts"))
    finally:
        con.close()


def _build(landing: Path, warehouse: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, "build", "--data", str(landing), "--warehouse", str(warehouse)],
        capture_output=True, text=True, env=_env(), cwd=settings.PROJECT_ROOT, timeout=900,
    )  # fmt: skip


@pytest.fixture(scope="module")
def delivery(tmp_path_factory) -> Path:
    """New deliveries for the sample warehouse: eight random histories, with a few faults."""
    world = World()
    for k in range(8):  # ids of four histories start like spreadsheet formulas
        random_history(world, random.Random(100 + k), f"{'=+@-'[k] if k < 4 else ''}N{k}_")
    renamed = world.facility("=N0_F1", updated=datetime(2025, 2, 1))
    renamed["name"] = FORMULA_NAME
    landing = Landing(world, random.Random(5), ["malformed_row", "truncated", "duplicate_file"])
    root = tmp_path_factory.mktemp("new_delivery") / "landing"
    landing.write(root, 1)
    landing.write(root, 2)
    return root


@pytest.fixture(scope="module")
def base(tmp_path_factory, sample_warehouse) -> Path:
    """The published warehouse before the new deliveries (the sample, built once)."""
    path = tmp_path_factory.mktemp("base") / "custodia.duckdb"
    shutil.copy2(sample_warehouse, path)
    return path


@pytest.fixture(scope="module")
def published(tmp_path_factory, base, delivery):
    """One clean build of the deliveries over ``base``, with a dashboard reader looping."""
    warehouse = tmp_path_factory.mktemp("published") / "custodia.duckdb"
    shutil.copy2(base, warehouse)
    old = _figures(base)
    reads: list[tuple] = []
    errors: list[str] = []
    stop = threading.Event()
    saved = os.environ.get(settings.WAREHOUSE_ENV)
    os.environ[settings.WAREHOUSE_ENV] = str(warehouse)

    def reader() -> None:
        while not stop.is_set():
            try:
                con = connection.connect()  # what every dashboard query opens (uncached)
                try:
                    figures = tuple(con.execute(CONSISTENT_SQL).fetchall()[0])
                finally:
                    con.close()
                files = int(connection.build_info()["files"])  # a cached page query
                reads.append((figures, files))
            except Exception as exc:  # any failure is a finding
                errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.01)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        proc = _build(delivery, warehouse)
        time.sleep(1.0)  # keep reading the new warehouse for a moment
    finally:
        stop.set()
        thread.join(timeout=30)
        # the dashboard keeps its connection open a moment: close it before _figures opens the
        # file with other settings (DuckDB refuses both in one process)
        connection.close_kept()
        if saved is None:
            os.environ.pop(settings.WAREHOUSE_ENV, None)
        else:
            os.environ[settings.WAREHOUSE_ENV] = saved
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {"warehouse": warehouse, "old": old, "new": _figures(warehouse), "reads": reads,
            "errors": errors}  # fmt: skip


@pytest.mark.slow
def test_readers_see_the_old_or_the_new_warehouse_never_a_mix(published):
    old, new, reads = published["old"], published["new"], published["reads"]
    assert published["errors"] == [], published["errors"][:5]
    assert old != new, "the new deliveries must change the figures"
    assert len(reads) > 20, "the reader must have run during the build"
    kinds = []
    for figures, files in reads:
        assert figures in (old, new), f"a mixed warehouse: {figures} (old {old}, new {new})"
        assert files in (old[0], new[0]), files
        kinds.append("new" if figures == new else "old")
    assert kinds[0] == "old" and kinds[-1] == "new", "the reader saw both warehouses"
    first_new = kinds.index("new")
    assert "old" not in kinds[first_new:], "the old warehouse came back after the publish"


# Where to kill: after which stdout line, then a random sleep in [low, high) seconds.
KILL_POINTS = [
    ("custodia build:", 0.0, 0.3),  # copying the warehouse / loading definitions
    ("[1/2] ingest", 0.0, 1.5),  # during ingest
    ("[2/2] dbt build", 0.5, 4.0),  # early in dbt
    ("[2/2] dbt build", 4.0, 12.0),  # late in dbt
    ("exceptions:", 0.0, 0.2),  # around the checkpoint and os.replace
]


@pytest.mark.slow
def test_killed_builds_then_a_rerun_equal_one_clean_build(tmp_path, base, delivery, published):
    seed = int(os.environ.get("CUSTODIA_CRASH_SEED") or time.time())
    rng = random.Random(seed)
    warehouse = tmp_path / "custodia.duckdb"
    shutil.copy2(base, warehouse)
    # an in-place writer (a Dagster run) died after committing, before any checkpoint: its
    # write-ahead log sits beside the published warehouse
    died = subprocess.run(
        [sys.executable, "-c", "import duckdb, os, sys; c = duckdb.connect(sys.argv[1]); "
         "c.execute('create view main.crashed_writer as select 1 as a'); os._exit(9)",
         str(warehouse)],
    )  # fmt: skip
    assert died.returncode == 9 and warehouse.with_name(warehouse.name + ".wal").exists()
    old, clean = _state(base), _state(published["warehouse"])
    outcomes = []
    for marker, low, high in KILL_POINTS:
        delay = rng.uniform(low, high)
        proc = subprocess.Popen(
            [*CLI, "build", "--data", str(delivery), "--warehouse", str(warehouse)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(),
            cwd=settings.PROJECT_ROOT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 300
        for line in proc.stdout:
            if marker in line or time.monotonic() > deadline:
                break
        time.sleep(delay)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        outcomes.append((marker, round(delay, 2), proc.returncode))
        where = f"seed {seed}, kills so far {outcomes}"
        # the published warehouse: the old one unchanged, or the new one complete
        assert _state(warehouse) in (old, clean), f"a killed build published a mix; {where}"
    done = _build(delivery, warehouse)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    where = f"seed {seed}, kills {outcomes}"
    assert _state(warehouse) == clean, f"rerun after kills differs from one clean build; {where}"
    assert not warehouse.with_name(warehouse.name + ".building").exists()
    con = duckdb.connect(str(warehouse), read_only=True)  # opens: no stale WAL beside it
    try:
        # what the dead writer committed was kept (regression: the build copied the main
        # file only, then published it beside the old WAL, which DuckDB refuses to open)
        assert con.execute("select a from main.crashed_writer").fetchall() == [(1,)]
        for entity in ENTITIES:  # every delivered row loaded or rejected, exactly once
            assert conservation_violations(con, entity) == [], (entity, where)
    finally:
        con.close()


@pytest.mark.slow
def test_formulas_delivered_in_exports_leave_csv_downloads_neutralised(published, monkeypatch):
    monkeypatch.setenv(settings.WAREHOUSE_ENV, str(published["warehouse"]))
    everything = facility_stock.StockFilter()
    downloads = {  # the frames the pages offer as CSV downloads
        "sales_by_rep": sales.sales_by_rep(),
        "sales_lines": sales.sales_lines(),
        "non_sale_usage": non_sale_usage.non_sale_lines_all(),
        "reconciliation": finance.reconciliation(),
        "billing_problem_lines": finance.billing_problem_lines(),
        "facility_stock_levels": facility_stock.facility_stock_levels(everything),
        "facility_stock_items": facility_stock.facility_stock_items_all(everything),
        "exceptions": exceptions.exceptions(),
        "rejected_rows": data_quality.rejected_rows(),
        "query_result": analyst.run_analyst_query("select * from dim_facilities").frame,
    }
    neutralised = set()
    for name, frame in downloads.items():
        rows = list(csv.reader(io.StringIO(ui.safe_csv(frame).decode("utf-8"))))
        assert len(rows) == len(frame) + 1, f"{name}: a value split a row"
        for row in rows:
            for cell in row:
                if cell.startswith(("=", "+", "-", "@", "\t", "\r")):
                    float(cell)  # only a number may start so (a spreadsheet reads it as one)
                if cell.startswith("'") and cell[1:2] in ("=", "+", "-", "@"):
                    neutralised.add(cell[1])
        if name == "query_result":
            assert "'" + FORMULA_NAME in {c for row in rows for c in row}, "facility name"
    assert neutralised == {"=", "+", "-", "@"}, neutralised

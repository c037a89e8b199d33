"""Month-end close (`custodia close`) and restatements (`marts.rpt_restatements`).

The close is driven through the real CLI on copies of the sample build. The restatement the
sample's late delivery causes is checked against differences computed here from the two
deliveries themselves (the sample's CSV rows and the late file), never from the SQL; and the
closed rows must come through every later build, a full refresh and another close unchanged.
"""

from __future__ import annotations

import csv
import getpass
import hashlib
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import yaml
from conftest import SAMPLE, SAMPLE_CLOSE_MONTH, SAMPLE_LATE
from dbt_support import close_dashboard_connection
from streamlit.testing.v1 import AppTest

from dashboards import ui
from orchestration import settings
from orchestration.build import BuildError, run_build, writer_lock
from orchestration.ingest.audit import CLOSED_FIGURES

ROOT = settings.PROJECT_ROOT
CLI = [sys.executable, "-m", "orchestration.cli"]
APP = str(ROOT / "dashboards" / "app.py")
FIGURES = ", ".join(CLOSED_FIGURES)


def _close(warehouse: Path, month: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, "close", "--month", month, "--warehouse", str(warehouse), *extra],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(warehouse: Path, sql: str, params=None) -> list[tuple]:
    close_dashboard_connection()  # DuckDB refuses other settings beside the page's connection
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def _files(folder: Path) -> list[str]:
    """The folder's files, the writers' lock file aside (an empty file readers never use)."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


@pytest.fixture
def warehouse(sample_warehouse, tmp_path) -> Path:
    """A private copy of the sample build."""
    path = tmp_path / "custodia.duckdb"
    shutil.copy2(sample_warehouse, path)
    return path


# --------------------------------------------------------------------------------------------
# One list of figures


def test_closed_figures_are_the_reconciliation_figures():
    """The figures the close freezes (audit.py), the ones rpt_restatements compares (macro)
    and the columns of rpt_reconciliation_monthly are one list."""
    marts = yaml.safe_load((settings.DBT_PROJECT_DIR / "models/marts/_marts.yml").read_text())
    model = next(m for m in marts["models"] if m["name"] == "rpt_reconciliation_monthly")
    columns = [c["name"] for c in model["columns"]]
    assert columns[:2] == ["month", "facility_id"]
    assert tuple(columns[2:]) == CLOSED_FIGURES
    macro = (settings.DBT_PROJECT_DIR / "macros/closed_figures.sql").read_text()
    assert tuple(re.findall(r"'(\w+)'", macro)) == CLOSED_FIGURES


def test_the_makefile_closes_the_month_the_tests_close():
    makefile = (ROOT / "Makefile").read_text()
    assert f"SAMPLE_CLOSE_MONTH := {SAMPLE_CLOSE_MONTH}" in makefile
    assert "SAMPLE_LATE := data/sample_late" in makefile


# --------------------------------------------------------------------------------------------
# custodia close


def test_close_freezes_every_facility_row_of_the_month(warehouse):
    before = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    proc = _close(warehouse, "2024-07", "--by", "alice")
    after = datetime.now(UTC).replace(tzinfo=None)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "closed 2024-07" in proc.stdout
    frozen = _rows(
        warehouse,
        f"select month, facility_id, {FIGURES} from audit.closed_months order by facility_id",
    )
    marts = _rows(
        warehouse,
        f"select month, facility_id, {FIGURES} from marts.rpt_reconciliation_monthly "
        "where month = date '2024-07-01' order by facility_id",
    )
    assert frozen and frozen == marts
    files = len([p for p in SAMPLE.glob("[!_]*/*") if p.is_file()])  # one delivery per file
    as_of = _rows(warehouse, "select as_of from intermediate.int_reference_instant")[0][0]
    meta = _rows(
        warehouse,
        "select distinct closed_by, delivery_watermark, data_as_of, closed_at "
        "from audit.closed_months",
    )
    assert len(meta) == 1
    by, mark, data_as_of, closed_at = meta[0]
    assert (by, mark, data_as_of) == ("alice", files, as_of)
    assert before <= closed_at <= after
    assert _files(warehouse.parent) == ["custodia.duckdb"]  # no working copy left behind


def test_a_fresh_build_has_the_closes_table_empty(sample_warehouse):
    """dbt reads audit.closed_months as a source: the build's ingest creates it, empty."""
    assert _rows(sample_warehouse, "select count(*) from audit.closed_months") == [(0,)]
    assert _rows(sample_warehouse, "select count(*) from marts.rpt_restatements") == [(0,)]


def test_close_on_a_warehouse_from_before_closes_creates_the_table(warehouse):
    con = duckdb.connect(str(warehouse))
    con.execute("drop view if exists staging.stg_closed_months")
    con.execute("drop table audit.closed_months")
    con.close()
    assert _close(warehouse, "2024-07").returncode == 0
    assert _rows(warehouse, "select count(distinct month) from audit.closed_months") == [(1,)]


def test_close_names_the_operating_system_user_by_default(warehouse):
    proc = _close(warehouse, "2024-06")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _rows(warehouse, "select distinct closed_by from audit.closed_months") == [
        (getpass.getuser(),)
    ]


@pytest.mark.parametrize(
    ("month", "said"),
    [
        ("2024-13", "malformed month '2024-13': expected YYYY-MM"),
        ("24-07", "malformed month '24-07'"),
        ("July", "malformed month 'July'"),
        ("2022-01", "no reconciliation data for 2022-01: the data has months 2023-02 to 2025-12"),
        ("2025-12", "2025-12 is not over in the data: its newest instant is 2025-12-31 23:00:00"),
    ],
)
def test_refused_closes_change_nothing(warehouse, month, said):
    before, listing = _sha(warehouse), _files(warehouse.parent)
    proc = _close(warehouse, month)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and said in err[0], err
    assert _sha(warehouse) == before
    assert _files(warehouse.parent) == listing


def test_a_closed_month_is_never_closed_again(warehouse):
    assert _close(warehouse, "2024-07", "--by", "alice").returncode == 0
    before = _sha(warehouse)
    proc = _close(warehouse, "2024-07", "--by", "bob")
    assert proc.returncode == 3, proc.stdout + proc.stderr  # make tells it from a failure
    assert "2024-07 is already closed (by alice at" in proc.stderr
    assert "never overwritten" in proc.stderr
    assert _sha(warehouse) == before


def test_close_without_a_warehouse_is_refused(tmp_path):
    proc = _close(tmp_path / "nowhere.duckdb", "2024-07")
    assert proc.returncode == 2
    assert "no warehouse at" in proc.stderr and "custodia build" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_close_and_build_never_race(warehouse):
    """While one writer (here: this test) holds the warehouse, a close and a build are both
    refused at once, and the file is untouched."""
    before = _sha(warehouse)
    with writer_lock(warehouse):
        proc = _close(warehouse, "2024-07")
        with pytest.raises(BuildError, match="another custodia build or close is writing"):
            run_build(SAMPLE_LATE, warehouse, echo=lambda _line: None)
    assert proc.returncode == 2
    assert "another custodia build or close is writing" in proc.stderr
    assert _sha(warehouse) == before
    assert _close(warehouse, "2024-07").returncode == 0  # the lock is gone with its holder


# --------------------------------------------------------------------------------------------
# Restatements: what the two deliveries say, computed here


def _read_csvs(folder: Path, entity: str) -> list[dict]:
    """Every row delivered for `entity`, in delivery order (file path, then row)."""
    rows = []
    for path in sorted((folder / entity).glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            rows += list(csv.DictReader(f))
    return rows


def _newest(rows: list[dict], key: tuple[str, ...]) -> dict[tuple, dict]:
    """The newest version per key: highest updated_at, then the later delivery."""
    newest: dict[tuple, dict] = {}
    for row in rows:  # delivery order: a later row wins a tie
        k = tuple(row[c] for c in key)
        at = datetime.fromisoformat(row["updated_at"])
        if k not in newest or at >= datetime.fromisoformat(newest[k]["updated_at"]):
            newest[k] = row
    return newest


def expected_restatements(closed_months: set[date]) -> dict[tuple, Decimal]:
    """(month, facility, figure) -> difference, from the sample's rows and the late file.

    The late file corrects what was billed on case lines; it changes nothing else on them
    (checked here), so for a line billed both before and after, only billed_revenue moves,
    by new - old billed_amount, in the month of the case and the case's facility."""
    key = ("event_id", "line_no")
    before = _newest(_read_csvs(SAMPLE, "event_lines"), key)
    late = _read_csvs(SAMPLE_LATE, "event_lines")
    after = _newest(list(before.values()) + late, key)
    delivered_events = _read_csvs(SAMPLE, "events") + _read_csvs(SAMPLE_LATE, "events")
    events = _newest(delivered_events, ("event_id",))
    assert late, "the sample's late delivery holds event lines"
    diffs: dict[tuple, Decimal] = defaultdict(Decimal)
    for row in late:
        k = (row["event_id"], row["line_no"])
        old, new = before[k], after[k]
        assert new is row, f"the late version of {k} is the newest one"
        for column in ("item_id", "quantity", "usage_status", "unit_price", "no_charge"):
            assert old[column] == new[column], (k, column)
        assert Decimal(old["billed_amount"]) > 0 and Decimal(new["billed_amount"]) > 0
        event = events[(row["event_id"],)]
        assert event["event_type"] == "CASE" and event["status"] in ("CLOSED", "COMPLETED", "PAID")
        case_date = datetime.fromisoformat(event["event_date"])
        month = date(case_date.year, case_date.month, 1)
        if month in closed_months:
            cell = (month, event["facility_id"], "billed_revenue")
            diffs[cell] += Decimal(new["billed_amount"]) - Decimal(old["billed_amount"])
    return {cell: d for cell, d in diffs.items() if d}


def test_restatement_after_a_late_delivery(restated_warehouse):
    months = _rows(restated_warehouse, "select distinct month from audit.closed_months")
    closed = {m for (m,) in months}
    assert closed == {date.fromisoformat(f"{SAMPLE_CLOSE_MONTH}-01")}
    expected = expected_restatements(closed)
    assert expected, "the sample's late delivery restates the closed month"
    got = {
        (r[0], r[1], r[2]): r[3:]
        for r in _rows(
            restated_warehouse,
            "select month, facility_id, figure, closed_value, current_value, difference, "
            "lines_moved, moved_by_lines, late_deliveries, delivery_watermark, closed_by "
            "from marts.rpt_restatements",
        )
    }
    assert set(got) == set(expected)
    files = len([p for p in SAMPLE.glob("[!_]*/*") if p.is_file()])
    late_lines = {
        f"{r['event_id']}#{r['line_no']}": f"event_lines/{p.name}"
        for p in sorted((SAMPLE_LATE / "event_lines").glob("*.csv"))
        for r in csv.DictReader(p.open(newline="", encoding="utf-8"))
    }
    for (month, facility, figure), diff in expected.items():
        closed_value, current, difference, n, lines, deliveries, mark, by = got[
            (month, facility, figure)
        ]
        frozen = _rows(
            restated_warehouse,
            f"select {figure} from audit.closed_months where month = ? and facility_id = ?",
            [month, facility],
        )[0][0]
        now = _rows(
            restated_warehouse,
            f"select {figure} from marts.rpt_reconciliation_monthly "
            "where month = ? and facility_id = ?",
            [month, facility],
        )[0][0]
        assert (closed_value, current, difference) == (frozen, now, diff)
        assert (mark, by) == (files, "finance-test")
        # the late lines of this cell, and the file that brought them
        cell_lines = sorted(
            line
            for line in late_lines
            if _rows(
                restated_warehouse,
                "select 1 from marts.fct_event_lines where event_line_id = ? "
                "and facility_id = ? and date_trunc('month', line_at) = ?",
                [line, facility, month],
            )
        )
        assert n == len(cell_lines) and lines == ", ".join(cell_lines)
        assert deliveries == ", ".join(sorted({late_lines[line] for line in cell_lines}))


def test_closed_rows_survive_builds_full_refreshes_and_other_closes(restated_warehouse, tmp_path):
    """audit.closed_months is append-only: a later build, a --full-refresh rebuild and the
    close of another month leave the rows already there identical, value for value."""
    path = tmp_path / "custodia.duckdb"
    shutil.copy2(restated_warehouse, path)
    everything = "select * from audit.closed_months order by month, facility_id"
    frozen = _rows(path, everything)
    restated = _rows(path, "select * from marts.rpt_restatements order by all")
    assert frozen and restated

    said: list[str] = []
    assert run_build(SAMPLE_LATE, path, echo=said.append).ok
    assert _rows(path, everything) == frozen
    months = len({r[0] for r in restated})
    assert (
        f"  restatements: {len(restated)} figure(s) of {months} closed month(s) changed"
        in "\n".join(said)
    )
    assert run_build(SAMPLE, path, echo=lambda _line: None, full_refresh=True).ok
    assert _rows(path, everything) == frozen
    assert _rows(path, "select * from marts.rpt_restatements order by all") == restated

    assert _close(path, "2024-08").returncode == 0
    after = _rows(path, everything)
    assert after[: len(frozen)] == frozen
    assert {r[0] for r in after[len(frozen) :]} == {date(2024, 8, 1)}


# --------------------------------------------------------------------------------------------
# The finance page's section


def _finance(warehouse: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv(settings.WAREHOUSE_ENV, str(warehouse))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("views/finance.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_finance_page_lists_closes_and_restatements(restated_warehouse, monkeypatch):
    at = _finance(restated_warehouse, monkeypatch)
    closes = at.container(key="fin_closes_table").dataframe[0].value
    marts = _rows(
        restated_warehouse,
        "select month, count(*) from audit.closed_months group by month order by month desc",
    )
    shown_closes = zip(closes["month"], closes["facilities_closed"], strict=True)
    assert [(pd_date(m), n) for m, n in shown_closes] == marts
    restated = _rows(
        restated_warehouse,
        "select month, facility_id, figure, difference, moved_by_lines from marts.rpt_restatements "
        "order by month desc, facility_id, figure",
    )
    assert list(closes["restated_figures"]) == [len(restated)]
    shown = at.container(key="fin_restatements_table").dataframe[0].value
    assert [
        (pd_date(r.month), r.facility_id, r.figure, Decimal(str(r.difference)), r.moved_by_lines)
        for r in shown.itertuples()
    ] == [(m, f, fig, Decimal(str(d)), lines) for m, f, fig, d, lines in restated]
    billed = sum((d for _, _, fig, d, _ in restated if fig == "billed_revenue"), Decimal(0))
    labels = {m.label: m.value for m in at.metric}
    assert labels["Billed revenue change"] == ui.money(billed)
    assert labels["Restated figures"] == ui.units(len(restated))


def test_finance_page_without_a_close_says_so(sample_warehouse, monkeypatch):
    at = _finance(sample_warehouse, monkeypatch)
    assert any("No month in this selection is closed yet" in i.value for i in at.info)
    with pytest.raises(KeyError):  # no table of closes, no table of restatements
        at.container(key="fin_closes_table")
    with pytest.raises(KeyError):
        at.container(key="fin_restatements_table")


def pd_date(value) -> date:
    return value.date() if hasattr(value, "date") else value

"""The confined runner for analyst SQL: hostile queries get a clear message within their time
limit plus 5 s, the process tree stays under 2 GiB (read from /proc), and ordinary queries
answer right after. Every query here runs in a real worker process against the sample build."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from proc_tree import TreePeak, high_water_mark

from dashboards.queries import sandbox

HOST = Path(__file__).with_name("sandbox_host.py")
TREE_CAP = 2 * 1024**3
LIMITS = sandbox.Limits(seconds=5)  # the defaults, with a shorter clock to keep the suite fast
ORDINARY = "select facility_id, quantity_on_hand from rpt_stock_levels order by 2 desc"


def run_hosted(warehouse: Path, sql: str, limits: sandbox.Limits = LIMITS) -> dict:
    """Run one query in a stand-in dashboard process; its outcome plus the measured figures."""
    started = time.monotonic()
    limits_json = json.dumps(dataclasses.asdict(limits))
    proc = subprocess.Popen(
        [sys.executable, str(HOST), str(warehouse), limits_json, sql],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with TreePeak(proc.pid) as peak:
        hwm = 0
        while proc.poll() is None:
            hwm = max(hwm, high_water_mark(proc.pid))
            time.sleep(0.01)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    outcome = json.loads(out)
    outcome["elapsed"] = time.monotonic() - started
    outcome["tree_peak"] = peak.peak
    # Bound from the kernel's own counters: the host's peak plus its worker's peak.
    outcome["kernel_bound"] = hwm + outcome.get("worker_peak_bytes", 0)
    return outcome


# (query, acceptable outcomes): "memory"/"time" = stopped by that limit; "rows"/"bytes" =
# answered, capped by that limit; "cut" = answered with cells cut to the display width.
HOSTILE = [
    ("select repeat('x', 10000000) as s from range(5000)", {"cut", "memory"}),
    ("select repeat('x', 2000000000) as s", {"memory"}),
    ("select string_agg(repeat('y', 50000000), '') as s from range(100)", {"memory"}),
    ("select list(repeat('z', 100000)) as l from range(100000)", {"memory"}),
    (
        "with recursive r(i) as (select 1 union all select i + 1 from r) select count(*) from r",
        {"time", "memory"},
    ),
    # the cross join materialises one side while it counts: on a fast moment it reaches the
    # memory limit before the clock runs out; either limit stops it
    ("select count(*) from range(1000000000) as a, range(1000000000) as b", {"time", "memory"}),
    (
        "select i, repeat('w', 300) as a, repeat('v', 300) as b, random() as r "
        "from range(20000000) as t(i) order by random()",
        {"rows", "time", "memory"},
    ),
    (
        "select " + ", ".join(f"repeat('m', 4000) as c{i}" for i in range(10)) + " "
        "from range(200000)",
        {"bytes"},
    ),
]


def _kind(outcome: dict) -> str:
    if not outcome["ok"]:
        return outcome["limit"]
    if outcome["stopped_by"]:
        return outcome["stopped_by"]
    return "cut" if outcome["cut_cells"] else "complete"


@pytest.mark.slow
@pytest.mark.parametrize(("sql", "expected"), HOSTILE, ids=[f"hostile{i}" for i in range(8)])
def test_hostile_query_is_bounded(sample_warehouse, sql, expected):
    outcome = run_hosted(sample_warehouse, sql)
    kind = _kind(outcome)
    assert kind in expected, outcome
    assert outcome["elapsed"] < LIMITS.seconds + 5, outcome
    assert outcome["tree_peak"] < TREE_CAP, outcome
    assert outcome["kernel_bound"] < TREE_CAP, outcome
    if not outcome["ok"]:  # the message names the limit that stopped it
        named = {"memory": "memory limit", "time": "time limit"}[kind]
        assert named in outcome["message"], outcome
    else:
        assert outcome["rows"] <= LIMITS.rows
        assert outcome["nbytes"] <= LIMITS.result_mb * 1_000_000
        assert outcome["longest_cell"] <= LIMITS.cell_chars + 1  # plus the "…" marker
    # and an ordinary query answers right after
    ordinary = run_hosted(sample_warehouse, ORDINARY)
    assert ordinary["ok"] and ordinary["rows"] > 0, ordinary


def test_cells_are_cut_for_display_with_a_count(sample_warehouse):
    preview = sandbox.run_preview(
        "select repeat('x', 5000) as long, 'short' as short, [1, 2] as l, 1 as n from range(3)",
        sample_warehouse,
        LIMITS,
    )
    frame = preview.table.to_pandas()
    assert preview.cut_cells == 3
    assert set(frame["long"]) == {"x" * LIMITS.cell_chars + "…"}
    assert list(frame["short"]) == ["short"] * 3
    assert list(frame["l"]) == ["[1, 2]"] * 3  # nested values shown as text
    assert list(frame["n"]) == [1, 1, 1]


def test_duplicate_column_names_survive(sample_warehouse):
    preview = sandbox.run_preview("select 1 as a, 2 as a", sample_warehouse, LIMITS)
    assert preview.table.column_names == ["a", "a"]
    assert [c.to_pylist() for c in preview.table.columns] == [[1], [2]]


def test_row_cap_is_reported(sample_warehouse):
    limits = sandbox.Limits(seconds=5, rows=10)
    preview = sandbox.run_preview("select i from range(11) as t(i)", sample_warehouse, limits)
    assert (preview.rows, preview.stopped_by) == (10, "rows")
    exact = sandbox.run_preview("select i from range(10) as t(i)", sample_warehouse, limits)
    assert (exact.rows, exact.stopped_by) == (10, None)


def test_engine_still_refuses_files(sample_warehouse):
    """The worker's connection keeps external access off, whatever the check lets through."""
    with pytest.raises(sandbox.QueryStopped) as stopped:
        sandbox.run_preview("select * from read_csv('/etc/passwd')", sample_warehouse, LIMITS)
    assert stopped.value.limit == "refused"
    assert str(stopped.value).startswith("Refused by the engine:")


def test_download_csv_is_formula_safe(sample_warehouse, tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "download_root", lambda: tmp_path / "sql")
    download = sandbox.run_download(
        "select '=1+1' as \"=danger\", 'plain' as ok, 3 as n", sample_warehouse, LIMITS, "csv"
    )
    text = download.path.read_text()
    assert text.splitlines()[0] == '"\'=danger","ok","n"'
    assert text.splitlines()[1] == '"\'=1+1","plain",3'
    assert download.rows == 1 and download.nbytes == download.path.stat().st_size


def test_download_parquet_holds_every_row(sample_warehouse, tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "download_root", lambda: tmp_path / "sql")
    limits = sandbox.Limits(seconds=5, rows=10)  # the display cap does not apply
    download = sandbox.run_download(
        "select i, repeat('x', 5000) as s from range(2000) as t(i)",
        sample_warehouse,
        limits,
        "parquet",
    )
    table = pq.read_table(download.path)
    assert table.num_rows == download.rows == 2000
    assert set(len(s) for s in table.column("s").to_pylist()) == {5000}  # cells not cut


def test_download_over_its_size_limit_is_refused_and_removed(
    sample_warehouse, tmp_path, monkeypatch
):
    monkeypatch.setattr(sandbox, "download_root", lambda: tmp_path / "sql")
    limits = sandbox.Limits(seconds=5, download_mb=1)
    with pytest.raises(sandbox.QueryStopped) as stopped:
        sandbox.run_download(
            "select repeat('x', 1000) as s from range(100000)", sample_warehouse, limits, "csv"
        )
    assert stopped.value.limit == "download"
    assert "1 MB download limit" in str(stopped.value)
    assert not any((tmp_path / "sql").rglob("*.csv"))


def test_at_most_n_queries_run_at_once_and_the_rest_wait_in_line(sample_warehouse):
    limits = sandbox.Limits(seconds=5, concurrent=2)
    slow = "select count(*) from range(300000000) as t(i) where i % 7 = 3"
    positions: dict[int, list[int]] = {}
    most = 0
    done = []

    def one(n: int) -> None:
        sandbox.run_preview(
            slow, sample_warehouse, limits, on_wait=lambda p: positions.setdefault(n, []).append(p)
        )
        done.append(n)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    while any(t.is_alive() for t in threads):
        most = max(most, sandbox.GATE.running)
        time.sleep(0.01)
    assert sorted(done) == [0, 1, 2, 3]
    assert most == 2
    assert positions.get(2) and positions[2][0] == 1  # third in: first in line
    assert positions.get(3) and positions[3][0] == 2  # fourth in: second in line


def test_gate_releases_a_slot_when_a_waiter_gives_up():
    gate = sandbox.Gate()

    def impatient(_position: int) -> None:
        raise KeyboardInterrupt

    with gate.slot(1):
        with pytest.raises(KeyboardInterrupt), gate.slot(1, on_wait=impatient):
            pass
        assert gate.running == 1
    with gate.slot(1):  # nobody left waiting in front
        assert gate.running == 1
    assert gate.running == 0


def test_limits_come_from_the_environment():
    limits = sandbox.Limits.from_env({"CUSTODIA_SQL_SECONDS": "3.5", "CUSTODIA_SQL_MAX_ROWS": "9"})
    assert (limits.seconds, limits.rows, limits.memory_mb) == (3.5, 9, 512)
    assert sandbox.Limits.from_env({}) == sandbox.Limits()
    with pytest.raises(ValueError, match="CUSTODIA_SQL_MEMORY_MB='lots' is not a number"):
        sandbox.Limits.from_env({"CUSTODIA_SQL_MEMORY_MB": "lots"})
    with pytest.raises(ValueError, match="must be greater than 0"):
        sandbox.Limits.from_env({"CUSTODIA_SQL_CONCURRENT": "0"})
    assert {s.env for s in sandbox.SETTINGS} >= {
        "CUSTODIA_SQL_SECONDS",
        "CUSTODIA_SQL_MEMORY_MB",
        "CUSTODIA_SQL_MAX_ROWS",
        "CUSTODIA_SQL_MAX_RESULT_MB",
        "CUSTODIA_SQL_CONCURRENT",
    }


def test_every_limit_is_documented():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "reliability.md").read_text()
    for setting in sandbox.SETTINGS:
        default = getattr(sandbox.Limits(), setting.field)
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{setting.env}`")), "")
        assert row, f"{setting.env} is not in the limits table of docs/reliability.md"
        documented = row.split("|")[2].strip()
        assert documented.split()[0] == f"{default:,g}", (setting.env, documented)

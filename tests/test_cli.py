"""`custodia build` end to end: the summary, clear failures, and atomic publish."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from orchestration import settings

CLI = [sys.executable, "-m", "orchestration.cli"]


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    return {**env, **extra}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_build_on_missing_folder_fails_with_one_clear_line(tmp_path):
    missing = tmp_path / "nope"
    proc = subprocess.run(
        [*CLI, "build", "--data", str(missing), "--warehouse", str(tmp_path / "w.duckdb")],
        capture_output=True, text=True, env=_env(), cwd=settings.PROJECT_ROOT,
    )  # fmt: skip
    assert proc.returncode != 0
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0] and str(missing) in err[0]
    assert not (tmp_path / "w.duckdb").exists()


def test_build_prints_stages_and_summary_and_publishes(tmp_path, sample_dir):
    warehouse = tmp_path / "w.duckdb"
    proc = subprocess.run(
        [*CLI, "build", "--data", str(sample_dir), "--warehouse", str(warehouse)],
        capture_output=True, text=True, env=_env(), cwd=settings.PROJECT_ROOT, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for needle in ("[1/2] ingest", "[2/2] dbt build", "rejected", "checks", "exceptions:",
                   "published"):  # fmt: skip
        assert needle in out, f"{needle!r} missing from:\n{out}"
    assert not Path(str(warehouse) + ".building").exists()
    con = duckdb.connect(str(warehouse), read_only=True)
    n_files = con.execute("select count(*) from audit.ingested_files").fetchall()[0][0]
    n_marts = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'marts'"
    ).fetchall()[0][0]
    con.close()
    assert n_files == len([p for p in sample_dir.glob("[!_]*/*") if p.is_file()])
    assert n_marts >= 12


def test_killed_build_leaves_the_published_warehouse_untouched(tmp_path, sample_warehouse):
    warehouse = tmp_path / "w.duckdb"
    warehouse.write_bytes(sample_warehouse.read_bytes())
    before = _sha(warehouse)
    # a new delivery, so the build has work to do in both stages
    landing = tmp_path / "landing"
    (landing / "users").mkdir(parents=True)
    (landing / "users" / "users_9999.csv").write_text(
        "user_id,email,full_name,role,is_custodian_only,is_active,commission_rate,region,"
        "created_at,updated_at\n"
        "UX1,x@example.com,X,SALES,false,true,0.05,West,2024-01-01T00:00:00Z,2024-01-01T00:00:00Z\n"
    )
    proc = subprocess.Popen(
        [*CLI, "build", "--data", str(landing), "--warehouse", str(warehouse)],
        stdout=subprocess.PIPE, text=True, env=_env(), cwd=settings.PROJECT_ROOT,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    for line in proc.stdout:
        if "[2/2]" in line or time.monotonic() > deadline:
            break
    time.sleep(1.0)  # inside dbt
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _sha(warehouse) == before, "a killed build changed the published warehouse"
    # the next build cleans up and publishes the new delivery
    done = subprocess.run(
        [*CLI, "build", "--data", str(landing), "--warehouse", str(warehouse)],
        capture_output=True, text=True, env=_env(), cwd=settings.PROJECT_ROOT, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    con = duckdb.connect(str(warehouse), read_only=True)
    assert con.execute("select count(*) from raw.users where user_id = 'UX1'").fetchall() == [(1,)]
    con.close()
    assert not Path(str(warehouse) + ".building").exists()

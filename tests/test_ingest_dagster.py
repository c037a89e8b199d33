"""The ingest assets, checks, sensor and schedule, materialized for real into a temp DuckDB."""

from __future__ import annotations

import os

import dagster as dg
import duckdb
import pytest
from test_ingest import valid_row, write_entity

from orchestration.contract import ENTITIES
from orchestration.defs.automation import daily_build, landing_folder_sensor
from orchestration.defs.ingest import conservation_checks, raw_assets
from orchestration.resources import LandingResource, build_resources


@pytest.fixture
def landing(tmp_path):
    path = tmp_path / "landing"
    write_entity(path, "users", "users_0001.csv", [valid_row("users", i) for i in range(3)])
    write_entity(
        path,
        "transfers",
        "transfers_0001.csv",
        [valid_row("transfers", 1), valid_row("transfers", 2, status="LOST", quantity="-4")],
    )
    (path / "facilities").mkdir()
    (path / "facilities" / "facilities_0001.csv").write_bytes(b"")
    return path


def _materialize(tmp_path, landing):
    return dg.materialize(
        [*raw_assets, *conservation_checks],
        resources=build_resources(warehouse=tmp_path / "w.duckdb", landing=landing),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=True,
    )


def _checks(result) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    return {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}


def test_assets_materialize_and_checks_report(tmp_path, landing):
    result = _materialize(tmp_path, landing)
    assert result.success
    assert len(result.get_asset_materialization_events()) == len(ENTITIES)
    checks = _checks(result)
    assert len(checks) == 2 * len(ENTITIES)

    # conservation holds everywhere
    assert all(checks[(e, "rows_conserved")].passed for e in ENTITIES)
    # rejects: transfers has a rejected row, facilities a failed file; both WARN
    for entity in ("transfers", "facilities"):
        failed = checks[(entity, "nothing_rejected")]
        assert not failed.passed and failed.severity == dg.AssetCheckSeverity.WARN
    assert checks[("transfers", "nothing_rejected")].metadata["rows_rejected"].value == 1
    reasons = checks[("transfers", "nothing_rejected")].metadata["first_reasons"].value
    assert "negative" in reasons and "LOST" in reasons
    assert checks[("facilities", "nothing_rejected")].metadata["files_failed"].value == 1
    assert checks[("users", "nothing_rejected")].passed

    mats = {
        m.asset_key.path[-1]: m.materialization.metadata
        for m in result.get_asset_materialization_events()
    }
    assert mats["users"]["rows_loaded"].value == 3
    assert mats["transfers"]["dagster/row_count"].value == 1

    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    assert con.execute("select count(*) from raw.users").fetchall() == [(3,)]
    assert con.execute("select count(*) from audit.rejected_rows").fetchall() == [(1,)]
    con.close()

    # a second run finds nothing new: everything passes, nothing added
    again = _checks(_materialize(tmp_path, landing))
    assert all(e.passed for e in again.values())


def test_a_run_opens_the_warehouse_once_and_releases_it(tmp_path, landing, monkeypatch):
    """The run's steps share one connection (each open costs ~25 ms of every build); at the
    end of the run it is closed, so another process can write the file at once."""
    opened = []
    real_connect = duckdb.connect

    def counting_connect(database=":memory:", *args, **kwargs):
        if str(database).endswith("w.duckdb"):
            opened.append(database)
        return real_connect(database, *args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", counting_connect)
    result = _materialize(tmp_path, landing)
    assert result.success
    assert len(opened) == 1, opened  # 9 assets and 9 checks, one connection
    monkeypatch.undo()
    # released: a writer in this process (a second DuckDB instance would be refused while
    # the run's connection stayed open) opens it at once
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert con.execute("select count(*) from raw.users").fetchall() == [(3,)]
    con.close()


def test_a_failed_step_leaves_no_open_transaction_to_the_next(tmp_path):
    warehouse = build_resources(warehouse=tmp_path / "w.duckdb")["warehouse"]
    warehouse.setup_for_execution(dg.build_init_resource_context())
    try:
        with pytest.raises(RuntimeError), warehouse.get_connection() as con:
            con.execute("begin transaction")
            con.execute("create table t (x integer)")
            raise RuntimeError("the step failed half-way")
        with warehouse.get_connection() as con:
            # the half-done transaction was rolled back, and the connection still works
            assert con.execute(
                "select count(*) from information_schema.tables where table_name = 't'"
            ).fetchall() == [(0,)]
    finally:
        warehouse.teardown_after_execution(dg.build_init_resource_context())


def test_conservation_check_fails_with_error_when_rows_are_lost(tmp_path, landing):
    _materialize(tmp_path, landing)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("delete from raw.users where _row_number = 2")
    con.close()
    result = _materialize(tmp_path, landing)
    lost = _checks(result)[("users", "rows_conserved")]
    assert not lost.passed and lost.severity == dg.AssetCheckSeverity.ERROR


def test_code_location_loads_the_defs_folder_and_pins_the_graph():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    raw = {k for k in graph.get_all_asset_keys() if k.path[0] == "raw"}
    assert raw == {dg.AssetKey(["raw", e]) for e in ENTITIES}
    assert {graph.get(k).group_name for k in raw} == {"ingest"}
    raw_checks = {
        (c.asset_key.path[-1], c.name) for c in graph.asset_check_keys if c.asset_key in raw
    }
    names = ("nothing_rejected", "rows_conserved", "delivery_fresh")
    assert raw_checks == {(e, n) for e in ENTITIES for n in names}
    assert {"warehouse", "landing"} <= set(defs.resources)
    assert defs.resolve_sensor_def("landing_folder_sensor").default_status == (
        dg.DefaultSensorStatus.STOPPED
    )
    assert defs.resolve_schedule_def("daily_build").default_status == (
        dg.DefaultScheduleStatus.STOPPED
    )


def test_resources_read_the_environment_at_run_time(tmp_path, monkeypatch):
    from orchestration.resources import WarehouseResource

    monkeypatch.setenv("CUSTODIA_WAREHOUSE", str(tmp_path / "env.duckdb"))
    monkeypatch.setenv("CUSTODIA_LANDING", str(tmp_path / "in"))
    assert WarehouseResource().database() == tmp_path / "env.duckdb"
    assert LandingResource().folder() == tmp_path / "in"
    assert LandingResource(path=str(tmp_path / "x")).folder() == tmp_path / "x"


def test_sensor_requests_a_run_for_new_or_changed_files_only(landing):
    resources = {"landing": LandingResource(path=str(landing))}
    ctx = dg.build_sensor_context(resources=resources)
    first = landing_folder_sensor(ctx)
    assert len(first.run_requests) == 1

    ctx = dg.build_sensor_context(cursor=first.cursor, resources=resources)
    assert isinstance(landing_folder_sensor(ctx), dg.SkipReason)

    path = landing / "users" / "users_0001.csv"
    path.write_text(path.read_text() + ",".join(valid_row("users", 9).values()) + "\n")
    os.utime(path, ns=(1, 2))
    ctx = dg.build_sensor_context(cursor=first.cursor, resources=resources)
    changed = landing_folder_sensor(ctx)
    assert len(changed.run_requests) == 1
    assert changed.run_requests[0].run_key != first.run_requests[0].run_key


def test_daily_schedule_targets_everything():
    assert daily_build.cron_schedule == "0 5 * * *"


def test_landing_and_warehouse_can_be_set_by_run_config(tmp_path, landing):
    users = next(a for a in raw_assets if a.key == dg.AssetKey(["raw", "users"]))
    db = tmp_path / "from_config.duckdb"
    result = dg.materialize(
        [users],
        resources=build_resources(),  # no paths: the run config below decides
        run_config={
            "resources": {
                "landing": {"config": {"path": str(landing)}},
                "warehouse": {"config": {"path": str(db)}},
            }
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select count(*) from raw.users").fetchall() == [(3,)]
    con.close()


def test_weekly_full_check_runs_every_test_over_every_row():
    """The weekly schedule builds everything with the dbt op's ``full_check`` (every data test
    over every row); its run config is valid for the job it runs."""
    from orchestration.definitions import defs

    schedule = defs.resolve_schedule_def("weekly_full_check")
    assert schedule.cron_schedule == "0 6 * * 0"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    request = schedule.evaluate_tick(dg.build_schedule_context()).run_requests[0]
    assert request.run_config["ops"]["custodia_dbt_models"]["config"] == {"full_check": True}
    dg.validate_run_config(defs.resolve_implicit_global_asset_job_def(), request.run_config)

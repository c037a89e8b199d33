"""Freshness (issue 15): the Dagster delivery_fresh checks, dbt source freshness, the dashboard
header ("data as of <newest delivery>, built <time>") and its stale-feed warning, and the
threshold setting read at run time."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import dbt_support as h
import duckdb
import pytest
from test_dashboard import open_page
from test_ingest import valid_row, write_entity

from orchestration import freshness, settings
from orchestration.contract import ENTITIES
from orchestration.defs.freshness import FRESHNESS_CHECK, freshness_checks
from orchestration.defs.ingest import raw_assets
from orchestration.resources import build_resources

T0 = datetime(2026, 1, 10, 12, 0)


@pytest.fixture(autouse=True)
def _default_threshold(monkeypatch):
    monkeypatch.delenv(settings.STALE_AFTER_HOURS_ENV, raising=False)


# --------------------------------------------------------------------------- the rule


def test_judge_names_stale_and_missing_feeds():
    newest = {"users": T0 - timedelta(hours=2), "events": T0 - timedelta(hours=40)}
    feeds = {f.entity: f for f in freshness.judge(newest, T0, 36)}
    assert list(feeds) == list(ENTITIES)  # every feed of the contract, in contract order
    assert not feeds["users"].is_stale and feeds["users"].age == timedelta(hours=2)
    assert feeds["events"].is_stale
    assert feeds["products"].is_stale and feeds["products"].newest_delivery_at is None
    assert feeds["products"].describe() == "products: never delivered"
    assert "40.0 h ago" in feeds["events"].describe()
    # exactly at the threshold is still fresh; a microsecond later is stale
    edge = {"users": T0 - timedelta(hours=36)}
    assert not freshness.judge(edge, T0, 36, entities=["users"])[0].is_stale
    assert freshness.judge(edge, T0 + timedelta(microseconds=1), 36, entities=["users"])[0].is_stale


@pytest.mark.parametrize("value", ["soon", "0", "-3", "nan", "1e9"])
def test_a_bad_threshold_is_refused_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv(settings.STALE_AFTER_HOURS_ENV, value)
    with pytest.raises(settings.SettingError, match=settings.STALE_AFTER_HOURS_ENV):
        settings.stale_after_hours()


def test_threshold_is_read_when_asked_not_at_import(monkeypatch):
    assert settings.stale_after_hours() == settings.DEFAULT_STALE_AFTER_HOURS
    monkeypatch.setenv(settings.STALE_AFTER_HOURS_ENV, "2.5")
    assert settings.stale_after_hours() == 2.5


# --------------------------------------------------------------------------- Dagster checks


@pytest.fixture
def landing(tmp_path):
    path = tmp_path / "landing"
    write_entity(path, "users", "users_0001.csv", [valid_row("users", i) for i in range(3)])
    (path / "facilities").mkdir()
    (path / "facilities" / "facilities_0001.csv").write_bytes(b"")  # FAILED: nothing usable
    return path


def _freshness(tmp_path, landing) -> dict[str, dg.AssetCheckEvaluation]:
    result = dg.materialize(
        [*raw_assets, *freshness_checks],
        resources=build_resources(warehouse=tmp_path / "w.duckdb", landing=landing),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=True,
    )
    return {
        e.asset_key.path[-1]: e
        for e in result.get_asset_check_evaluations()
        if e.check_name == FRESHNESS_CHECK
    }


def test_dagster_checks_warn_on_feeds_without_a_recent_delivery(tmp_path, landing):
    checks = _freshness(tmp_path, landing)
    assert set(checks) == set(ENTITIES)
    assert checks["users"].passed
    assert checks["users"].metadata["stale_after_hours"].value == 36
    for entity in ("facilities", "events"):  # a failed file; no file at all
        assert not checks[entity].passed
        assert checks[entity].severity == dg.AssetCheckSeverity.WARN
        assert checks[entity].description == f"{entity}: never delivered"


def test_dagster_checks_read_the_threshold_at_run_time(tmp_path, landing, monkeypatch):
    monkeypatch.setenv(settings.STALE_AFTER_HOURS_ENV, "0.001")  # 3.6 s
    _freshness(tmp_path, landing)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:  # the users delivery is made a day old
        con.execute("update audit.ingested_files set ingested_at = ingested_at - interval 1 day")
    finally:
        con.close()
    checks = _freshness(tmp_path, landing)
    assert not checks["users"].passed
    assert "ago" in checks["users"].description
    monkeypatch.setenv(settings.STALE_AFTER_HOURS_ENV, "48")
    assert _freshness(tmp_path, landing)["users"].passed


def test_dagster_check_names_a_bad_threshold(tmp_path, landing, monkeypatch):
    monkeypatch.setenv(settings.STALE_AFTER_HOURS_ENV, "tomorrow")
    checks = _freshness(tmp_path, landing)
    assert not checks["users"].passed
    assert settings.STALE_AFTER_HOURS_ENV in checks["users"].description


# --------------------------------------------------------------------------- dbt source freshness


def test_dbt_source_freshness_on_every_raw_table(sample_warehouse, tmp_path):
    warehouse = tmp_path / "custodia.duckdb"
    shutil.copy(sample_warehouse, warehouse)
    fresh = h.run_dbt(["source", "freshness"], warehouse, tmp_path)
    assert fresh.returncode == 0, fresh.stdout[-3000:]
    assert fresh.stdout.count("PASS freshness of raw.") == len(ENTITIES)
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("update raw.users set _loaded_at = _loaded_at - interval 10 day")
        con.execute("update raw.products set _loaded_at = _loaded_at - interval 2 day")
    finally:
        con.close()
    stale = h.run_dbt(["source", "freshness"], warehouse, tmp_path)
    assert stale.returncode != 0
    assert "ERROR STALE freshness of raw.users" in stale.stdout
    assert "WARN freshness of raw.products" in stale.stdout


# --------------------------------------------------------------------------- dashboard header


@pytest.fixture
def warehouse(sample_warehouse, monkeypatch) -> Path:
    monkeypatch.setenv("CUSTODIA_WAREHOUSE", str(sample_warehouse))
    return sample_warehouse


def _newest_delivery(warehouse: Path) -> datetime:
    return h.fetch(
        warehouse,
        "select max(ingested_at) t from audit.ingested_files "
        "where status in ('LOADED', 'LOADED_WITH_REJECTS')",
    )[0]["t"]


@pytest.mark.parametrize("page", ["overview", "finance"])
def test_header_says_data_as_of_the_newest_delivery_and_build_time(warehouse, page):
    at = open_page(page)
    newest = _newest_delivery(warehouse)
    built = datetime.utcfromtimestamp(warehouse.stat().st_mtime)
    header = [c.value for c in at.caption if c.value.startswith("Data as of")]
    assert header == [
        f"Data as of **{newest:%Y-%m-%d %H:%M} UTC** (newest delivery), "
        f"built **{built:%Y-%m-%d %H:%M} UTC**; newest record in the data "
        + h.fetch(warehouse, "select as_of from marts.dim_reference_instant")[0]["as_of"].strftime(
            "%Y-%m-%d %H:%M"
        )
    ]
    assert not [w for w in at.warning if "Stale feeds" in w.value]


def test_header_warns_about_stale_feeds(warehouse, monkeypatch):
    # 3.6 s: the sample was ingested before its dbt build
    monkeypatch.setenv(settings.STALE_AFTER_HOURS_ENV, "0.001")
    at = open_page("overview")
    warnings = [w.value for w in at.warning if "Stale feeds" in w.value]
    assert len(warnings) == 1
    assert "no delivery in the last 0.001 h" in warnings[0]
    for entity in ENTITIES:
        assert f"{entity}: newest delivery" in warnings[0]


def test_header_names_a_bad_threshold_and_the_page_still_answers(warehouse, monkeypatch):
    monkeypatch.setenv(settings.STALE_AFTER_HOURS_ENV, "daily")
    at = open_page("overview")
    assert any(settings.STALE_AFTER_HOURS_ENV in e.value for e in at.error)
    assert at.metric  # the page itself still rendered

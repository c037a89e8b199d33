"""Incremental builds give the marts a full build gives.

The bundled sample arrives in two steps: its first two delivery files of every entity, then
the third (``*_0003``). Later files carry newer versions of earlier keys (an event that closes,
a link that ends), so the incremental staging models must re-derive exactly the keys the new
rows touch, and the item-grained intermediate models (macros/item_incremental.sql) exactly the
items and users those keys touch. After the incremental build, ``custodia build
--full-refresh`` rebuilds every model from all delivered rows (a full build of everything):
every table and view of the staging, intermediate and marts schemas must be equal row for row.
The random two-phase histories of tests/test_reliability_differential.py check the same path
against the oracle, with newer and older versions of a key landing in either phase.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from orchestration.build import run_build
from orchestration.defs.transform import dbt_build_args

pytestmark = pytest.mark.slow

BOOKKEEPING = ("int_delivery_watermark", "int_touched_entities")


def _landing(sample: Path, dst: Path, batches: int) -> Path:
    """``dst`` holding the first ``batches`` delivery files of every entity of ``sample``."""
    for entity in sorted(p for p in sample.iterdir() if p.is_dir() and p.name[0] not in "_."):
        (dst / entity.name).mkdir(parents=True, exist_ok=True)
        for f in sorted(entity.iterdir())[:batches]:
            shutil.copyfile(f, dst / entity.name / f.name)
    return dst


def _marts(warehouse: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        names = [
            (r[0], r[1])
            for r in con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_schema in ('marts', 'intermediate', 'staging') order by all"
            ).fetchall()
            # the build's own bookkeeping differs by design between the two builds
            if r[1] not in BOOKKEEPING
        ]
        out = {}
        for schema, name in names:
            cols = [
                c[0]
                for c in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, name],
                ).fetchall()
                # load times and delivery ids depend on how the files were batched
                if c[0] not in ("_loaded_at", "_file_id", "_through_file_id")
            ]
            sql = f"select {', '.join(cols)} from {schema}.{name} order by all"
            out[f"{schema}.{name}"] = con.execute(sql).fetchall()
        return out
    finally:
        con.close()


def _touched(warehouse: Path) -> tuple[int, int, int | None]:
    """Items the last build re-derived, items known, and the watermark it started from."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            """
            select
                (select count(*) from intermediate.int_touched_entities
                 where touched_kind = 'item'),
                (select count(*) from staging.stg_inventory_items),
                (select previous_through_file_id from intermediate.int_delivery_watermark)
            """
        ).fetchone()
    finally:
        con.close()


def _build(data: Path, warehouse: Path, full_refresh: bool = False) -> None:
    report = run_build(data, warehouse, echo=lambda s: None, full_refresh=full_refresh)
    assert report.ok, [f for s in report.stages for f in s.failures]


def test_full_refresh_flag_reaches_dbt():
    assert dbt_build_args() == ["build", "--exclude-resource-type", "unit_test"]
    assert dbt_build_args(full_refresh=True)[-1] == "--full-refresh"
    assert dbt_build_args(full_check=True)[-2:] == ["--vars", "{custodia_test_scope: all}"]


def test_incremental_build_equals_a_full_build(tmp_path, sample_dir):
    landing = tmp_path / "landing"
    warehouse = tmp_path / "custodia.duckdb"
    _build(_landing(sample_dir, landing, 1), warehouse)  # the first deliveries
    assert _touched(warehouse)[2] is None  # a first build derives everything, untracked
    for batches in (2, 3):  # then the second and the third, each incrementally
        _build(_landing(sample_dir, landing, batches), warehouse)
        touched, items, watermark = _touched(warehouse)
        assert watermark, "the item-grained models were not built incrementally"
        assert 0 < touched < items, (touched, items)
    incremental = _marts(warehouse)
    assert "staging.stg_transfers" in incremental and "marts.fct_event_lines" in incremental
    assert "intermediate.int_custody_intervals" in incremental

    # --full-refresh rebuilds every model from all delivered rows: a full build of everything
    _build(landing, warehouse, full_refresh=True)
    full = _marts(warehouse)
    assert sorted(incremental) == sorted(full)
    for name, rows in full.items():  # staging: the same version, file and row number
        assert incremental[name] == rows, name

    # a model added since the last build (its table missing): the others re-derive every
    # item, so all agree
    con = duckdb.connect(str(warehouse))
    con.execute("drop table intermediate.int_transfer_states")
    con.close()
    _build(landing, warehouse)
    touched, items, watermark = _touched(warehouse)
    assert watermark == 0 and touched >= items, (watermark, touched, items)
    assert _marts(warehouse) == full

    # a warehouse built when a model was not yet item-grained (its table without the
    # bookkeeping column): the build drops it and derives it whole instead of failing
    con = duckdb.connect(str(warehouse))
    con.execute(
        "create or replace table intermediate.int_exceptions__references_items as "
        "select * exclude (_through_file_id) from intermediate.int_exceptions__references_items"
    )
    con.close()
    _build(landing, warehouse)
    touched, items, watermark = _touched(warehouse)
    assert watermark == 0 and touched >= items, (watermark, touched, items)
    assert _marts(warehouse) == full


def _latest_run_tests() -> dict[str, str]:
    """The compiled SQL of every data test of the latest dbt run (its run_results.json)."""
    import json

    from orchestration import settings

    runs = (settings.DBT_PROJECT_DIR / "target").glob("custodia_dbt_models-*/run_results.json")
    latest = max(runs, key=lambda p: p.stat().st_mtime)
    results = json.loads(latest.read_text())["results"]
    return {
        r["unique_id"].split(".")[2]: r.get("compiled_code") or ""
        for r in results
        if r["unique_id"].startswith("test.")
    }


def _scoped(tests: dict[str, str]) -> dict[str, bool]:
    """Whether the primary-key tests of an item-grained model, a staging model, a view over an
    item-grained model and a table rebuilt whole read only the rows the build wrote
    (macros/test_scope.sql)."""
    return {
        "int_custody_intervals": "_through_file_id >"
        in tests["primary_key_int_custody_intervals_custody_interval_id"],
        "stg_transfers": "_file_id >" in tests["primary_key_stg_transfers_transfer_id"],
        "fct_custody_intervals": "custody_interval_id in (select"
        in tests["primary_key_fct_custody_intervals_custody_interval_id"],
        "fct_exceptions": "_file_id >" in tests["primary_key_fct_exceptions_exception_id"],
    }


def test_redelivery_build_equals_a_full_build_and_tests_the_rows_it_wrote(tmp_path, sample_dir):
    """A re-delivery (newer versions of existing transfers and event lines, how the source
    system exports changes) built incrementally equals a full build; its data tests of the
    incremental models read only the rows it wrote, while ``--full-refresh`` and
    ``--full-check`` test every row."""
    from orchestration.bench.stages import make_redelivery

    warehouse = tmp_path / "custodia.duckdb"
    _build(sample_dir, warehouse)
    assert not any(_scoped(_latest_run_tests()).values())  # a first build tests every row
    before = tmp_path / "before.duckdb"
    shutil.copyfile(warehouse, before)
    redelivered = make_redelivery(sample_dir, tmp_path / "landing", share=0.02)
    new = [p for p in redelivered.rglob("*_9998.csv")]
    assert {p.parent.name for p in new} == {"transfers", "event_lines"}

    _build(redelivered, warehouse)
    touched, items, watermark = _touched(warehouse)
    assert watermark and 0 < touched < items, (watermark, touched, items)
    assert _scoped(_latest_run_tests()) == {
        "int_custody_intervals": True,
        "stg_transfers": True,
        "fct_custody_intervals": True,  # a view over int_custody_intervals' rows (its meta)
        "fct_exceptions": False,  # a table rebuilt whole keeps every row
    }
    incremental = _marts(warehouse)

    _build(redelivered, warehouse, full_refresh=True)
    assert not any(_scoped(_latest_run_tests()).values())
    full = _marts(warehouse)
    assert sorted(incremental) == sorted(full)
    for name, rows in full.items():
        assert incremental[name] == rows, name

    # the same re-delivery with every test over every row (the weekly schedule's build)
    report = run_build(redelivered, before, echo=lambda s: None, full_check=True)
    assert report.ok, [f for s in report.stages for f in s.failures]
    assert not any(_scoped(_latest_run_tests()).values())
    assert _marts(before) == full

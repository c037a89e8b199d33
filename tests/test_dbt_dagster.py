"""The dbt project inside Dagster: naming policy, the pinned asset graph, a real run."""

from __future__ import annotations

import os
import time

import dagster as dg
import dbt_support as h
import pytest

from orchestration.contract import ENTITY_NAMES
from orchestration.defs import transform

# every dbt asset by group (the first part of its key): models by layer folder, seeds
MODEL_KEYS = {
    "seeds": ["exception_codes"],
    "staging": [
        "stg_closed_months",
        "stg_distributor_links",
        "stg_event_lines",
        "stg_events",
        "stg_facilities",
        "stg_inventory_items",
        "stg_product_versions",
        "stg_products",
        "stg_sharing_settings",
        "stg_transfers",
        "stg_users",
    ],
    "intermediate": [
        "int_custody_intervals",
        "int_delivery_watermark",
        "int_event_line_states",
        "int_event_lines",
        "int_exceptions__billing",
        "int_exceptions__custody",
        "int_exceptions__facility_stock",
        "int_exceptions__item_life",
        "int_exceptions__links",
        "int_exceptions__references_events",
        "int_exceptions__references_items",
        "int_exceptions__references_sharing",
        "int_item_lifecycle",
        "int_item_line_sequence",
        "int_link_intervals",
        "int_product_price_intervals",
        "int_reference_instant",
        "int_sharing_intervals",
        "int_touched_entities",
        "int_transfer_states",
    ],
    "marts": [
        "dim_exception_codes",
        "dim_facilities",
        "dim_products",
        "dim_reference_instant",
        "dim_users",
        "fct_access_path_intervals",
        "fct_custody_intervals",
        "fct_event_lines",
        "fct_exceptions",
        "fct_facility_stock",
        "fct_facility_stock_access",
        "fct_facility_stock_access_as_of",
        "fct_facility_stock_access_intervals",
        "fct_facility_stock_intervals",
        "fct_inventory_status",
        "fct_non_sale_usage",
        "fct_price_variance",
        "fct_sales",
        "rpt_non_sale_monthly",
        "rpt_price_variance_summary",
        "rpt_reconciliation_monthly",
        "rpt_restatements",
        "rpt_sales_monthly",
        "rpt_stock_levels",
        "rpt_stock_levels_as_of",
    ],
}


# --------------------------------------------------------------------------- pure helpers


def test_translator_maps_raw_source_onto_ingest_keys():
    translator = transform.CustodiaDbtTranslator()
    props = {"resource_type": "source", "source_name": "raw", "name": "events", "fqn": []}
    assert translator.get_asset_key(props) == dg.AssetKey(["raw", "events"])


def test_translator_keys_and_groups_models_by_layer_folder():
    translator = transform.CustodiaDbtTranslator()
    props = {
        "resource_type": "model",
        "name": "fct_sales",
        "fqn": ["custodia", "marts", "fct_sales"],
        "config": {},
        "meta": {},
    }
    assert translator.get_asset_key(props) == dg.AssetKey(["marts", "fct_sales"])
    assert translator.get_group_name(props) == "marts"
    assert translator.settings.enable_asset_checks


def test_translator_keys_and_groups_seeds_as_seeds():
    translator = transform.CustodiaDbtTranslator()
    props = {
        "resource_type": "seed",
        "name": "exception_codes",
        "fqn": ["custodia", "exception_codes"],
        "config": {},
        "meta": {},
    }
    assert translator.get_asset_key(props) == dg.AssetKey(["seeds", "exception_codes"])
    assert translator.get_group_name(props) == "seeds"


def test_the_build_loads_seeds_with_the_models():
    from orchestration.build import build_stages

    keys = [dg.AssetKey(k) for k in (["raw", "events"], ["seeds", "codes"], ["marts", "fct"])]
    assert build_stages(keys) == [
        ("ingest", [keys[0]]),
        ("dbt build", [keys[1], keys[2]]),
    ]
    args = transform.dbt_build_args()
    assert args[0] == "build" and "seed" not in args and "--select" not in args


@pytest.mark.parametrize(
    ("fqn", "layer"),
    [
        (["custodia", "staging", "stg_users"], "staging"),
        (["custodia", "intermediate", "sub", "int_x"], "intermediate"),
        (["custodia", "other", "x"], None),
        (["custodia", "x"], None),
    ],
)
def test_layer_of(fqn, layer):
    assert transform.layer_of(fqn) == layer


def test_manifest_is_stale(tmp_path):
    (tmp_path / "models").mkdir()
    model = tmp_path / "models" / "a.sql"
    model.write_text("select 1")
    manifest = tmp_path / "target" / "manifest.json"
    assert transform.manifest_is_stale(tmp_path, manifest)
    manifest.parent.mkdir()
    manifest.write_text("{}")
    assert not transform.manifest_is_stale(tmp_path, manifest)
    later = time.time() + 10
    os.utime(model, (later, later))
    assert transform.manifest_is_stale(tmp_path, manifest)


# --------------------------------------------------------------------------- the asset graph


@pytest.fixture(scope="module")
def defs():
    from orchestration.definitions import defs

    return defs


def test_asset_graph_is_pinned(defs):
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    expected = {f"raw/{e}" for e in ENTITY_NAMES}
    expected |= {f"{layer}/{m}" for layer, models in MODEL_KEYS.items() for m in models}
    expected |= {"audit/closed_months"}  # external: written by `custodia close`, read by dbt
    assert keys == expected
    graph = defs.resolve_asset_graph()
    assert {k.to_user_string() for k in graph.external_asset_keys} == {"audit/closed_months"}


def test_groups_and_lineage(defs):
    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    for layer, models in MODEL_KEYS.items():
        for m in models:
            assert specs[f"{layer}/{m}"].group_name == layer
    for entity in ENTITY_NAMES:
        deps = {d.asset_key.to_user_string() for d in specs[f"staging/stg_{entity}"].deps}
        assert deps == {f"raw/{entity}"}


def test_dbt_tests_are_asset_checks(defs):
    checks = {
        (k.asset_key.to_user_string(), k.name) for k in defs.resolve_asset_graph().asset_check_keys
    }
    for layer, models in MODEL_KEYS.items():
        for m in models:
            assert any(
                key == f"{layer}/{m}" and name.startswith("primary_key") for key, name in checks
            ), m
    assert any(name.startswith("accepted_values") for _, name in checks)
    assert any(name.startswith("relationships") for _, name in checks)
    # every singular invariant test is a check of the mart it guards (dbt meta dagster.ref)
    assert {
        ("marts/fct_event_lines", "assert_consuming_lines_classified_once"),
        ("marts/fct_exceptions", "assert_exceptions_follow_key_convention"),
        ("marts/fct_sales", "assert_no_facility_stock_usage_in_sales"),
        ("marts/fct_facility_stock", "assert_on_hand_never_negative"),
        ("marts/rpt_reconciliation_monthly", "assert_reconciliation_matches_ledger"),
        ("marts/fct_sales", "assert_sales_ledger_total_matches_lines"),
        ("seeds/exception_codes", "assert_exception_severity_ranks_agree"),
        ("marts/rpt_stock_levels_as_of", "assert_as_of_views_match_now"),
    } <= checks


def test_dbt_resource_is_bound(defs):
    assert "dbt" in defs.resources


# --------------------------------------------------------------------------- a real run


@pytest.mark.slow
def test_materialize_dbt_assets_into_a_temp_warehouse(tmp_path, defs):
    from orchestration.resources import WarehouseResource

    warehouse = tmp_path / "custodia.duckdb"
    world = h.random_worlds(5, seed=3)
    h.load_rows(warehouse, dict(world.rows))
    dbt_assets = [
        a
        for a in defs.assets
        if isinstance(a, dg.AssetsDefinition) and a.op.name == "custodia_dbt_models"
    ]
    result = dg.materialize(
        dbt_assets,
        resources={
            "dbt": defs.resources["dbt"],
            "warehouse": WarehouseResource(path=str(warehouse)),
        },
        raise_on_error=False,
    )
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"marts/fct_exceptions", "seeds/exception_codes"} <= materialized
    evaluations = result.get_asset_check_evaluations()
    assert evaluations and all(e.passed for e in evaluations)
    rows = h.fetch(warehouse, "select count(*) as n from marts.fct_event_lines")
    assert rows[0]["n"] == len([r for r in world.rows["event_lines"]]) - sum(
        1
        for r in world.rows["event_lines"]
        if r["item_id"] not in {i["item_id"] for i in world.rows["inventory_items"]}
    )


def test_run_state_is_kept_for_the_next_build_and_old_runs_pruned(tmp_path):
    project_target = tmp_path / "target"
    runs = []
    for i in range(8):
        run = project_target / f"custodia_dbt_models-{i}"
        run.mkdir(parents=True)
        os.utime(run, (1000 + i, 1000 + i))
        runs.append(run)
    (runs[-1] / "partial_parse.msgpack").write_bytes(b"state of the last run")
    transform.keep_run_state(runs[-1], project_target, keep=3)
    assert (project_target / "partial_parse.msgpack").read_bytes() == b"state of the last run"
    assert sorted(p.name for p in project_target.glob("custodia_dbt_models-*")) == [
        "custodia_dbt_models-5",
        "custodia_dbt_models-6",
        "custodia_dbt_models-7",
    ]


def test_dbt_resource_skips_the_version_subprocess_and_the_adapter(monkeypatch):
    """The bound resource knows this environment's dbt version without running ``dbt
    --version`` and opens no adapter before a run (each cost about a second per build)."""
    from dagster_dbt.core import resource as dagster_dbt_resource
    from dbt.version import __version__

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"unexpected subprocess: {args}")

    monkeypatch.setattr(dagster_dbt_resource, "check_output", no_subprocess)
    project = transform.custodia_dbt_project()
    resource = transform.CustodiaDbtCliResource(
        project_dir=project, dbt_executable=transform.dbt_executable()
    )
    assert str(resource._cli_version) == __version__
    assert resource._initialize_dbt_core_adapter(["build"]) is None

"""STYLE.md conventions of the dbt project, checked on a freshly parsed manifest.

dbt-project-evaluator's rules as plain tests: prefixes match layer folders, only staging
reads sources, staging models read nothing else, marts never read sources, every model and
column is described and has a primary-key test, marts are public with an enforced contract
and typed columns, models are lower-case CTE chains ending in ``select * from final``, the
dashboard is an exposure, and every rule R-1..R-19 has a unit test. Seeds (reference data)
sit in ``seeds/`` and schema ``seeds``, are described and keyed like models, and reach
readers through a mart.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import dbt_support as h
import pytest

PREFIXES = {"staging": ("stg_",), "intermediate": ("int_",), "marts": ("fct_", "dim_", "rpt_")}
CONTRACT_TYPES = re.compile(
    r"^(bigint|double|varchar|timestamp|date|boolean|decimal\(\d+,\s*\d+\))$"
)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("dbt_parse")
    result = h.run_dbt(["parse"], tmp / "unused.duckdb", tmp)
    assert result.returncode == 0, result.stdout[-3000:]
    return json.loads((tmp / "target" / "manifest.json").read_text())


def _models(manifest: dict) -> list[dict]:
    return [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]


def _layer(node: dict) -> str:
    return node["fqn"][1]


def test_every_model_sits_in_a_layer_folder_with_its_prefix(manifest):
    for node in _models(manifest):
        layer = _layer(node)
        assert layer in PREFIXES, node["original_file_path"]
        assert node["name"].startswith(PREFIXES[layer]), node["name"]


def test_schemas_are_literal_layer_names(manifest):
    for node in _models(manifest):
        assert node["schema"] == _layer(node), node["name"]


def test_only_staging_reads_sources_and_staging_reads_only_sources(manifest):
    for node in _models(manifest):
        parents = node["depends_on"]["nodes"]
        sources = [p for p in parents if p.startswith("source.")]
        models = [p for p in parents if p.startswith("model.")]
        if _layer(node) == "staging":
            assert len(sources) == 1 and not models, node["name"]
        else:
            assert not sources, f"{node['name']} reads a source"


def test_sources_are_the_raw_entities_with_freshness(manifest):
    from orchestration.contract import ENTITY_NAMES

    sources = [s for s in manifest["sources"].values() if s["source_name"] == "raw"]
    assert sorted(s["name"] for s in sources) == sorted(ENTITY_NAMES)
    for s in sources:
        assert s["schema"] == "raw"
        assert s["loaded_at_field"] == "_loaded_at"
        assert s["freshness"]["warn_after"]["count"]


def test_every_model_and_column_is_described(manifest):
    for node in _models(manifest):
        assert node["description"].strip(), node["name"]
        assert node["columns"], f"{node['name']} documents no columns"
        for name, col in node["columns"].items():
            assert col["description"].strip(), f"{node['name']}.{name}"


def _primary_keyed(manifest: dict) -> set[str]:
    """Nodes with a primary-key test (``primary_key``, or ``unique`` + ``not_null`` on one
    column)."""
    tested = set()
    unique, not_null = set(), set()
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or "test_metadata" not in node:
            continue
        name = node["test_metadata"]["name"]
        model = node.get("attached_node")
        if name == "primary_key":
            tested.add(model)
        elif name == "unique":
            unique.add((model, node["column_name"]))
        elif name == "not_null":
            not_null.add((model, node["column_name"]))
    return tested | {m for m, _ in unique & not_null}


def test_every_model_has_a_primary_key_test(manifest):
    tested = _primary_keyed(manifest)
    missing = [n["name"] for n in _models(manifest) if n["unique_id"] not in tested]
    assert missing == []


def test_seeds_are_described_keyed_reference_data_read_through_marts(manifest):
    seeds = [n for n in manifest["nodes"].values() if n["resource_type"] == "seed"]
    assert seeds, "the exception codes are a seed"
    tested = _primary_keyed(manifest)
    marts = {n["unique_id"] for n in _models(manifest) if _layer(n) == "marts"}
    for seed in seeds:
        assert seed["original_file_path"].startswith("seeds/"), seed["name"]
        assert seed["schema"] == "seeds", seed["name"]
        assert seed["description"].strip(), seed["name"]
        header = (h.DBT_DIR / seed["original_file_path"]).read_text().splitlines()[0]
        assert list(seed["columns"]) == header.split(","), seed["name"]
        for name, col in seed["columns"].items():
            assert col["description"].strip(), f"{seed['name']}.{name}"
        assert seed["unique_id"] in tested, seed["name"]
        readers = manifest["child_map"][seed["unique_id"]]
        assert marts & set(readers), f"no mart publishes {seed['name']}"


def test_marts_are_public_and_contracted_with_duckdb_types(manifest):
    marts = [n for n in _models(manifest) if _layer(n) == "marts"]
    assert len(marts) >= 12
    for node in marts:
        assert node["access"] == "public", node["name"]
        assert node["config"]["contract"]["enforced"], node["name"]
        for name, col in node["columns"].items():
            assert CONTRACT_TYPES.match(col["data_type"] or ""), f"{node['name']}.{name}"


def test_required_mart_columns(manifest):
    """The required mart columns (docs/rules.md, outputs) are contract."""
    required = {
        "fct_custody_intervals": "item_id custodian_id valid_from valid_to",
        "fct_inventory_status": "custodian_id is_active is_facility_stock facility_id "
        "quantity_remaining deactivated_at deactivation_reason",
        "fct_facility_stock": "item_id facility_id seller_id stocking_order_id sold_at "
        "quantity_sold quantity_used quantity_returned quantity_on_hand unit_price "
        "value_on_hand status",
        "fct_facility_stock_access": "item_id facility_id user_id access_path",
        "fct_event_lines": "event_id line_no event_type event_date facility_id "
        "representative_id item_id quantity usage_class access_path custodian_at_use "
        "expected_amount billed_amount",
        "fct_sales": "event_id line_no item_id event_type facility_id representative_id sold_at "
        "catalog_number quantity amount commission_amount",
        "fct_exceptions": "code severity event_id line_no item_id user_id related_user_id "
        "facility_id transfer_id occurred_at detail",
        "rpt_stock_levels": "facility_id catalog_number quantity_on_hand value_on_hand items "
        "oldest_sold_at next_expiration quantity_expiring_90d eligible_users",
        "rpt_reconciliation_monthly": "month facility_id stocking_order_revenue "
        "case_sale_revenue expected_revenue billed_revenue double_billed_amount "
        "unbilled_amount non_sale_units non_sale_value returned_value",
    }
    by_name = {n["name"]: n for n in _models(manifest)}
    for model in ("dim_users", "dim_facilities", "dim_products"):
        assert model in by_name
    for model, cols in required.items():
        assert set(cols.split()) <= set(by_name[model]["columns"]), model


def test_models_are_lower_case_cte_chains_ending_in_final(manifest):
    keywords = re.compile(r"\b(SELECT|FROM|WHERE|JOIN|GROUP BY|ORDER BY|WITH|CASE|WHEN)\b")
    for node in _models(manifest):
        sql = re.sub(r"\{#.*?#\}", "", node["raw_code"], flags=re.S)
        sql = re.sub(r"--[^\n]*", "", sql)
        sql = re.sub(r"'[^']*'", "''", sql)
        assert not keywords.search(sql), f"{node['name']}: upper-case SQL"
        assert sql.strip().endswith("select * from final"), node["name"]
        assert re.search(r"^with\b", sql.strip()), node["name"]


def test_dashboard_exposure_depends_on_every_mart(manifest):
    exposures = list(manifest["exposures"].values())
    assert len(exposures) == 1
    exposure = exposures[0]
    assert exposure["type"] == "dashboard"
    assert "dashboards/app.py" in exposure["description"]
    marts = {n["unique_id"] for n in _models(manifest) if _layer(n) == "marts"}
    assert set(exposure["depends_on"]["nodes"]) == marts


def test_every_rule_has_a_unit_test(manifest):
    texts = " ".join(
        f"{u['name']} {u.get('description') or ''}" for u in manifest["unit_tests"].values()
    )
    rules = {int(n) for n in re.findall(r"R-(\d+)", texts)}
    assert set(range(1, 20)) - rules == set()


def test_duckdb_only_syntax_is_dispatched():
    """DuckDB-only functions appear only inside duckdb__ macros."""
    project = h.DBT_DIR
    duckdb_only = re.compile(r"\b(string_agg|qualify|list_agg|strftime|epoch_ms|date_trunc)\b")
    for path in sorted(Path(project, "models").rglob("*.sql")):
        assert not duckdb_only.search(path.read_text()), path.name

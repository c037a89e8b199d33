"""The documented export contract and the contract as data agree, and the raw DDL is valid."""

from __future__ import annotations

import re

import duckdb
import pytest

from orchestration import contract, settings

DOC = (settings.PROJECT_ROOT / "docs" / "data_contract.md").read_text()
CONTRACT_ENTITIES = (
    "users",
    "distributor_links",
    "sharing_settings",
    "facilities",
    "products",
    "inventory_items",
    "transfers",
    "events",
    "event_lines",
)


def test_every_domain_entity_is_in_the_contract():
    assert contract.ENTITY_NAMES == CONTRACT_ENTITIES


@pytest.mark.parametrize("entity", CONTRACT_ENTITIES)
def test_doc_lists_every_column_with_its_type(entity):
    e = contract.ENTITIES[entity]
    section = DOC.split(f"### `{entity}`", 1)[1].split("### ", 1)[0]
    for col in e.columns:
        row = re.search(
            rf"^\| `{col.name}` \| (\w+) \(`([^`]+)`\) \| (?:yes|no) \| ([\d,]*) \|", section, re.M
        )
        assert row, f"{entity}.{col.name} missing from docs/data_contract.md"
        max_length = f"{col.max_length:,}" if col.max_length is not None else ""
        assert row.groups() == (col.type, col.duckdb_type, max_length), f"{entity}.{col.name}"
        for value in col.enum or ():
            assert value in section
    header = ",".join(e.column_names)
    assert f"```csv\n{header}\n" in section, "example header must list the columns in order"


def test_every_id_and_text_column_has_a_max_length():
    for e in contract.ENTITIES.values():
        for c in e.columns:
            if c.type in ("id", "text"):
                assert c.max_length and c.max_length > 0, f"{e.name}.{c.name}"
            else:  # enums are bounded by their values, typed columns by their format
                assert c.max_length is None, f"{e.name}.{c.name}"
    with pytest.raises(ValueError, match="needs a max_length"):
        contract.Column("note", "text")


def test_doc_examples_parse_with_the_raw_types():
    con = duckdb.connect()
    con.execute("create schema raw")
    for e in contract.ENTITIES.values():
        con.execute(e.raw_ddl())
        section = DOC.split(f"### `{e.name}`", 1)[1]
        example = section.split("```csv\n", 1)[1].split("```", 1)[0].splitlines()[1]
        values = next(iter(__import__("csv").reader([example])))
        assert len(values) == len(e.columns)
        casts = ", ".join(
            f"try_cast(nullif(?, '') as {c.duckdb_type}) is not null or ? = ''" for c in e.columns
        )
        params = [v for v in values for _ in range(2)]
        assert all(con.execute(f"select {casts}", params).fetchone()), e.name


def test_raw_ddl_has_lineage_columns():
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute(contract.ENTITIES["transfers"].raw_ddl())
    cols = [r[0] for r in con.execute("describe raw.transfers").fetchall()]
    assert cols[-4:] == list(contract.LINEAGE_COLUMNS)


def test_settings_read_environment_at_call_time(monkeypatch, tmp_path):
    monkeypatch.setenv(settings.WAREHOUSE_ENV, str(tmp_path / "w.duckdb"))
    assert settings.warehouse_path() == tmp_path / "w.duckdb"
    monkeypatch.delenv(settings.WAREHOUSE_ENV)
    assert settings.warehouse_path() == settings.DEFAULT_WAREHOUSE

"""Ingest a generated export and compare the rejects with the generator's truth, exactly.

``_truth/expected_rejects.csv`` (entity, file, row, reason, column) lists every fault the
generator injected. Every listed row must be rejected with that reason; nothing else may be.
"""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from orchestration import generator
from orchestration.contract import ENTITY_NAMES
from orchestration.ingest import conservation_violations, ingest_landing


@pytest.fixture(scope="module", params=["csv", "parquet"])
def generated(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"generated_{request.param}")
    generator.generate(out, seed=7, scale="tiny", fmt=request.param)
    con = duckdb.connect(str(out.parent / f"{out.name}.duckdb"))
    results = ingest_landing(con, out)
    yield out, con, results
    con.close()


def _source_file(entity: str, file: str) -> str:
    return file if "/" in file else f"{entity}/{file}"


def test_generated_rejects_match_the_truth_exactly(generated):
    out, con, _ = generated
    truth = pl.read_csv(out / "_truth" / "expected_rejects.csv", infer_schema=False)
    expected: dict[tuple[str, int], set[tuple[str, str]]] = {}
    for entity, file, row, reason, column in truth.select(
        "entity", "file", "row", "reason", "column"
    ).iter_rows():
        key = (_source_file(entity, file), int(row))
        expected.setdefault(key, set()).add((reason, column))

    got = {
        (f, n): (codes, reasons)
        for f, n, codes, reasons in con.execute(
            "select source_file, row_number, reason_codes, reasons from audit.rejected_rows"
        ).fetchall()
    }
    assert set(got) == set(expected), (
        f"missed: {sorted(set(expected) - set(got))[:10]}, "
        f"unexpected: {sorted(set(got) - set(expected))[:10]}"
    )
    for key, faults in expected.items():
        codes, reasons = got[key]
        for reason, column in faults:
            assert reason in codes.split(";"), (key, reason, codes)
            assert column in reasons, (key, column, reasons)


def test_generated_export_conserves_rows_and_loads_every_file(generated):
    _, con, results = generated
    for entity, files in results.items():
        assert files, f"no files for {entity}"
        assert conservation_violations(con, entity) == []


def test_csv_and_parquet_exports_load_the_same_rows(tmp_path):
    tables = {}
    for fmt in ("csv", "parquet"):
        out = tmp_path / fmt
        generator.generate(out, seed=3, scale="tiny", fmt=fmt)
        con = duckdb.connect(str(tmp_path / f"{fmt}.duckdb"))
        ingest_landing(con, out)
        tables[fmt] = {
            entity: con.execute(
                f"select * exclude (_source_file, _loaded_at) from raw.{entity} order by all"
            ).fetchall()
            for entity in ENTITY_NAMES
        }
        con.close()
    for entity in ENTITY_NAMES:
        assert tables["csv"][entity] == tables["parquet"][entity], entity

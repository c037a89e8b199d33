"""Limits of a delivery: a header naming a column twice.

Through the real ingest path (``ingest_entity``, what the Dagster raw assets and ``custodia
build`` call) into DuckDB files. A header naming a column twice fails its file (FAILED, no rows).
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_ingest import rows, valid_row, write_entity

from orchestration.contract import ENTITIES
from orchestration.ingest import conservation_violations, ingest_entity


@pytest.fixture
def landing(tmp_path) -> Path:
    path = tmp_path / "landing"
    path.mkdir()
    return path


@pytest.fixture
def con(tmp_path):
    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield c
    c.close()


# ---------------------------------------------------------------- a column named twice


def _deliver_duplicated_header(landing: Path) -> Path:
    header = list(ENTITIES["transfers"].column_names)
    header = [*header, "quantity", "status", "note"]  # quantity and status named twice
    path = landing / "transfers" / "transfers_0002.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for n in (2, 3):
            row = valid_row("transfers", n)
            w.writerow([row[c] for c in ENTITIES["transfers"].column_names] + ["7", "HOLD", "x"])
    return path


def _deliver_duplicated_parquet(landing: Path) -> Path:
    names = list(ENTITIES["transfers"].column_names)
    row = valid_row("transfers", 4)
    table = pa.table(
        [pa.array([row[c]]) for c in names] + [pa.array(["9"])], names=[*names, "quantity"]
    )
    path = landing / "transfers" / "transfers_0003.parquet"
    pq.write_table(table, path)
    return path


def test_a_header_naming_a_column_twice_fails_the_file(landing, con):
    """Regression: polars renamed the second ``quantity`` to ``quantity_duplicated_0`` (an extra
    column) and the file loaded with one of the two values silently dropped."""
    write_entity(landing, "transfers", "transfers_0001.csv", [valid_row("transfers", 1)])
    _deliver_duplicated_header(landing)
    _deliver_duplicated_parquet(landing)

    good, csv_file, parquet_file = ingest_entity(con, landing, "transfers")

    assert (good.status, good.rows_loaded) == ("LOADED", 1)
    assert csv_file.status == "FAILED"
    assert csv_file.error == (
        "header names a column more than once: 'quantity' (2 times), 'status' (2 times); "
        "each column must be named once"
    )
    assert parquet_file.status == "FAILED"
    assert parquet_file.error == (
        "schema names a column more than once: 'quantity' (2 times); each column must be named once"
    )
    # recorded as every whole-file fault is: an audit row with its error, no row anywhere
    assert rows(
        con,
        "select source_file, status, rows_read, rows_loaded, rows_rejected, error "
        "from audit.ingested_files order by file_id",
    ) == [
        ("transfers/transfers_0001.csv", "LOADED", 1, 1, 0, None),
        ("transfers/transfers_0002.csv", "FAILED", None, None, None, csv_file.error),
        ("transfers/transfers_0003.parquet", "FAILED", None, None, None, parquet_file.error),
    ]
    assert rows(con, "select transfer_id from raw.transfers") == [("TRANSFER_ID-1",)]
    assert rows(con, "select count(*) from audit.rejected_rows") == [(0,)]
    assert conservation_violations(con, "transfers") == []


def test_distinct_names_that_look_like_polars_renames_still_load(landing, con):
    """Only a name written twice is refused; ``quantity_duplicated_0`` is an ordinary extra."""
    data = [dict(valid_row("transfers"), quantity_duplicated_0="7")]
    write_entity(landing, "transfers", "transfers_0001.csv", data)
    [result] = ingest_entity(con, landing, "transfers")
    assert (result.status, result.extra_columns) == ("LOADED", ("quantity_duplicated_0",))

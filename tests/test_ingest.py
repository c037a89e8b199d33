"""Ingestion without Dagster: reading, validation, rejects, whole-file faults, idempotence, crashes.

The helpers at the top (valid rows from the contract, writing CSV files, snapshots of the
warehouse) are imported by the other ``test_ingest_*`` modules.
"""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from orchestration.contract import ENTITIES, Column
from orchestration.ingest import (
    conservation_violations,
    ingest_entity,
    ingest_landing,
    loader,
)
from orchestration.ingest.schemas import text_schema

# ---------------------------------------------------------------- helpers (shared)

VALID = {
    "timestamp": "2024-01-05T10:00:00Z",
    "date": "2026-06-30",
    "boolean": "true",
    "integer": "1",
    "money": "12.50",
    "rate": "0.0500",
}


def valid_value(column: Column, n: int) -> str:
    if column.enum:
        return column.enum[0]
    if column.type in ("id", "text"):
        return f"{column.name.upper()}-{n}"
    return VALID[column.type]


def valid_row(entity: str, n: int = 1, **overrides: str) -> dict[str, str]:
    row = {c.name: valid_value(c, n) for c in ENTITIES[entity].columns}
    row.update(overrides)
    return row


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = header or list(rows[0])
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=header, lineterminator="\n", extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def write_entity(landing: Path, entity: str, name: str, rows: list[dict[str, str]]) -> Path:
    return write_csv(landing / entity / name, rows)


def snapshot(
    con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...] = ("raw", "audit")
) -> dict[str, list[tuple]]:
    """Every table of ``schemas``, sorted, without the wall-clock columns (to compare runs)."""
    clock = {"_loaded_at", "ingested_at", "rejected_at", "file_mtime_ns"}  # file times too
    out = {}
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where list_contains(?, table_schema) order by 1, 2",
        [list(schemas)],
    ).fetchall()
    for schema, table in tables:
        cols = [
            name
            for (name,) in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, table],
            ).fetchall()
            if name not in clock
        ]
        out[f"{schema}.{table}"] = con.execute(
            f"select {', '.join(cols)} from {schema}.{table} order by all"
        ).fetchall()
    return out


def rows(con, sql: str, params=None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


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


# ---------------------------------------------------------------- row-level rejects

MALFORMED = [
    # entity, column, bad value, reason code
    ("transfers", "transfer_id", "", "missing_key"),
    ("event_lines", "line_no", "", "missing_key"),
    ("transfers", "item_id", "", "missing_value"),
    ("users", "role", "", "missing_value"),
    ("transfers", "status", "BOGUS", "bad_enum"),
    ("users", "role", "sales", "bad_enum"),
    ("products", "tracking", "LOTS", "bad_enum"),
    ("transfers", "created_at", "2024-13-01T00:00:00Z", "bad_timestamp"),
    ("events", "event_date", "yesterday", "bad_timestamp"),
    ("transfers", "responded_at", "05/01/2024", "bad_timestamp"),  # optional, still typed
    ("inventory_items", "expiration_date", "2026-02-30", "bad_timestamp"),
    ("users", "is_active", "yes", "bad_boolean"),
    ("users", "is_custodian_only", "True", "bad_boolean"),
    ("transfers", "quantity", "1.5", "wrong_type"),
    ("transfers", "quantity", "two", "wrong_type"),
    ("event_lines", "unit_price", "12.345", "wrong_type"),
    ("products", "list_price", "$10", "wrong_type"),
    ("users", "commission_rate", "0.12345", "wrong_type"),
    ("transfers", "quantity", "-1", "negative_quantity"),
    ("event_lines", "line_no", "-3", "negative_quantity"),
    ("event_lines", "billed_amount", "-0.01", "negative_amount"),
    ("products", "unit_cost", "-5", "negative_amount"),
    ("users", "commission_rate", "-0.1", "negative_amount"),
]


@pytest.mark.parametrize(("entity", "column", "value", "code"), MALFORMED)
def test_each_malformed_kind_is_rejected_with_its_reason(landing, con, entity, column, value, code):
    good = [valid_row(entity, 1), valid_row(entity, 3)]
    bad = valid_row(entity, 2, **{column: value})
    write_entity(landing, entity, f"{entity}_0001.csv", [good[0], bad, good[1]])

    [result] = ingest_entity(con, landing, entity)

    assert (result.status, result.rows_read, result.rows_loaded, result.rows_rejected) == (
        "LOADED_WITH_REJECTS",
        3,
        2,
        1,
    )
    [(row_number, codes, reasons, record)] = rows(
        con, "select row_number, reason_codes, reasons, record from audit.rejected_rows"
    )
    assert (row_number, codes) == (2, code)
    assert column in reasons and (value in reasons or not value)
    assert json.loads(record) == {k: (v if v != "" else None) for k, v in bad.items()}
    assert [r[0] for r in rows(con, f"select _row_number from raw.{entity} order by 1")] == [1, 3]


def test_a_row_with_several_faults_gets_every_reason_sorted(landing, con):
    bad = valid_row("transfers", 2, transfer_id="", quantity="-2", status="LOST", updated_at="x")
    write_entity(landing, "transfers", "transfers_0001.csv", [valid_row("transfers"), bad])
    ingest_entity(con, landing, "transfers")
    [(codes, reasons)] = rows(con, "select reason_codes, reasons from audit.rejected_rows")
    assert codes == "bad_enum;bad_timestamp;missing_key;negative_quantity"
    for text in ("transfer_id", "'-2'", "'LOST'", "'x'"):
        assert text in reasons


def test_every_failing_row_is_collected_not_just_the_first(landing, con):
    data = [valid_row("transfers", i, quantity="-1" if i % 2 else "1") for i in range(1, 201)]
    write_entity(landing, "transfers", "transfers_0001.csv", data)
    [result] = ingest_entity(con, landing, "transfers")
    assert (result.rows_loaded, result.rows_rejected) == (100, 100)
    assert len(result.first_reasons) == loader.FIRST_REASONS


def test_types_offsets_and_empty_optionals(landing, con):
    write_entity(
        landing,
        "transfers",
        "transfers_0001.csv",
        [
            valid_row(
                "transfers",
                created_at="2024-03-31T01:30:00+02:00",
                responded_at="",
                updated_at="2024-03-31T01:30:00.250-05:30",
                quantity="0",
            )
        ],
    )
    write_entity(
        landing,
        "users",
        "users_0001.csv",
        [valid_row("users", commission_rate="", is_active="false")],
    )
    write_entity(landing, "products", "products_0001.csv", [valid_row("products", list_price="7")])
    ingest_landing(con, landing)

    assert rows(
        con, "select created_at, responded_at, updated_at, quantity from raw.transfers"
    ) == [(datetime(2024, 3, 30, 23, 30), None, datetime(2024, 3, 31, 7, 0, 0, 250000), 0)]
    assert rows(con, "select commission_rate, is_active from raw.users") == [(None, False)]
    assert str(rows(con, "select list_price from raw.products")[0][0]) == "7.00"
    types = dict(
        rows(
            con,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'raw' and table_name = 'event_lines'",
        )
    )
    assert types["unit_price"] == "DECIMAL(18,2)" and types["_file_id"] == "BIGINT"


def test_extra_columns_are_listed_and_do_not_fail(landing, con):
    data = [dict(valid_row("facilities"), region_code="W")]
    write_entity(landing, "facilities", "facilities_0001.csv", data)
    [result] = ingest_entity(con, landing, "facilities")
    assert result.status == "LOADED" and result.extra_columns == ("region_code",)
    assert rows(con, "select extra_columns from audit.ingested_files") == [("region_code",)]


# ---------------------------------------------------------------- whole-file faults


def _load_with_one_good_file(landing, con, entity="facilities"):
    write_entity(landing, entity, f"{entity}_0001.csv", [valid_row(entity)])
    results = {r.source_file: r for r in ingest_entity(con, landing, entity)}
    good = results.pop(f"{entity}/{entity}_0001.csv")
    assert good.status == "LOADED" and good.rows_loaded == 1
    assert rows(con, f"select count(*) from raw.{entity}") == [(1,)]
    assert conservation_violations(con, entity) == []
    return results


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("facilities_0002.csv", b"", "empty file"),
        ("facilities_0002.csv", b"facility_id,name\xff\n", "not valid UTF-8"),
        ("facilities_0002.csv", b"\xef\xbb\xbff,\xe9\n", "not valid UTF-8"),
        ("facilities_0002.json", b'{"facility_id": "F9"}', "unknown file format 'json'"),
        ("facilities_0002.parquet", b"PAR1 not really", "unreadable Parquet"),
        ("facilities_0002.csv", b'facility_id,name\nF1,"unclosed\n', "unreadable CSV"),
    ],
)
def test_whole_file_faults_fail_the_file_and_others_still_load(landing, con, name, content, error):
    (landing / "facilities").mkdir()
    (landing / "facilities" / name).write_bytes(content)
    results = _load_with_one_good_file(landing, con)
    [failed] = results.values()
    assert failed.status == "FAILED" and error in failed.error
    assert rows(
        con,
        "select status, error, rows_loaded from audit.ingested_files where file_id = ?",
        [failed.file_id],
    ) == [("FAILED", failed.error, None)]


def test_missing_required_column_fails_the_file(landing, con):
    header = [c for c in ENTITIES["facilities"].column_names if c != "contract_complete"]
    write_csv(landing / "facilities" / "facilities_0002.csv", [valid_row("facilities", 2)], header)
    [failed] = _load_with_one_good_file(landing, con).values()
    assert failed.status == "FAILED"
    assert failed.error.startswith("missing required column(s): contract_complete")


def test_truncated_file_fails(landing, con):
    path = write_entity(
        landing,
        "facilities",
        "facilities_0002.csv",
        [valid_row("facilities", 2), valid_row("facilities", 3)],
    )
    data = path.read_bytes()
    path.write_bytes(data[: data.rindex(b",")])  # cut inside the last row, no final newline
    [failed] = _load_with_one_good_file(landing, con).values()
    assert failed.status == "FAILED" and failed.error.startswith("truncated file")


def test_bare_cr_line_endings_fail_the_file_with_a_clear_reason(landing, con):
    """Regression: old-Mac line endings used to report "missing required column(s)"."""
    lines = [
        ",".join(ENTITIES["facilities"].column_names),
        ",".join(valid_row("facilities", 2).values()),
    ]
    (landing / "facilities").mkdir()
    (landing / "facilities" / "facilities_0002.csv").write_bytes("\r".join(lines).encode() + b"\r")
    [failed] = _load_with_one_good_file(landing, con).values()
    assert failed.status == "FAILED"
    assert failed.error == "line endings are bare CR (\\r); use LF or CRLF"


# ---------------------------------------------------------------- rows of the wrong width


def _facility_lines(landing: Path, lines: list[str], newline: str = "\n") -> Path:
    header = ",".join(ENTITIES["facilities"].column_names)
    (landing / "facilities").mkdir(exist_ok=True)
    path = landing / "facilities" / "facilities_0001.csv"
    path.write_bytes(newline.join([header, *lines, ""]).encode())
    return path


def _good_line(n: int, name: str | None = None) -> str:
    row = valid_row("facilities", n)
    if name is not None:
        row["name"] = name
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(row.values())
    return out.getvalue()


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize(
    ("ragged", "fields"),
    [
        ("F-X,Name,TX,true,2024-01-05T10:00:00Z,stray", 6),  # one stray field
        ("F-X,Name,TX,true,2024-01-05T10:00:00Z,", 6),  # a trailing comma
        ("F-X,Name,TX,true", 4),  # a missing field: no longer padded with null
        ('F-X,"Name, with comma",TX', 3),  # quoted commas are not separators
    ],
)
def test_a_row_of_the_wrong_width_is_rejected_alone(landing, con, newline, ragged, fields):
    """Regression: one stray comma used to fail the whole file ("unreadable CSV")."""
    _facility_lines(landing, [_good_line(1), ragged, _good_line(3)], newline)
    [result] = ingest_entity(con, landing, "facilities")
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_rejected) == (
        "LOADED_WITH_REJECTS",
        3,
        2,
        1,
    )
    assert result.first_reasons == (f"row 2: row has {fields} fields, the header has 5",)
    assert rows(con, "select facility_id, _row_number from raw.facilities order by 2") == [
        ("FACILITY_ID-1", 1),
        ("FACILITY_ID-3", 3),
    ]
    [(row_number, codes, record)] = rows(
        con, "select row_number, reason_codes, record from audit.rejected_rows"
    )
    assert (row_number, codes, json.loads(record)) == (2, "wrong_field_count", {"_raw": ragged})
    assert conservation_violations(con, "facilities") == []


def test_quoted_commas_and_newlines_are_not_ragged_and_row_numbers_count_records(landing, con):
    """A record spanning lines is one row: the ragged row after it is still data row 3."""
    multi = 'two\nlines, and "quotes", too'
    stray = _good_line(3) + ",stray"
    _facility_lines(landing, [_good_line(1), _good_line(2, name=multi), stray, _good_line(4)])
    [result] = ingest_entity(con, landing, "facilities")
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 3, 1)
    assert rows(con, "select _row_number, name from raw.facilities order by 1") == [
        (1, "NAME-1"),
        (2, multi),
        (4, "NAME-4"),
    ]
    [(row_number, reasons, record)] = rows(
        con, "select row_number, reasons, record from audit.rejected_rows"
    )
    assert (row_number, reasons) == (3, "row has 6 fields, the header has 5")
    assert json.loads(record) == {"_raw": stray}
    assert conservation_violations(con, "facilities") == []


def test_a_ragged_row_and_a_malformed_row_each_get_their_own_reason(landing, con):
    bad_state = _good_line(1).replace(",true,", ",maybe,")
    _facility_lines(landing, [bad_state, "F-2,N,TX", _good_line(3)])
    [result] = ingest_entity(con, landing, "facilities")
    assert (result.rows_loaded, result.rows_rejected) == (1, 2)
    assert rows(con, "select row_number, reason_codes from audit.rejected_rows order by 1") == [
        (1, "bad_boolean"),
        (2, "wrong_field_count"),
    ]


def test_a_clean_file_with_empty_last_fields_is_not_ragged(landing, con):
    """The short-row check runs when the last column has nulls; empty fields are not short."""
    last = ENTITIES["facilities"].column_names[-1]
    write_entity(
        landing,
        "facilities",
        "facilities_0001.csv",
        [valid_row("facilities", 1, **{last: ""}), valid_row("facilities", 2)],
    )
    [result] = ingest_entity(con, landing, "facilities")
    codes = [c for (c,) in rows(con, "select reason_codes from audit.rejected_rows")]
    assert "wrong_field_count" not in ";".join(codes)
    assert result.rows_read == result.rows_loaded + result.rows_rejected == 2


def test_header_only_file_is_a_delivery_with_no_rows(landing, con):
    (landing / "facilities").mkdir()
    (landing / "facilities" / "facilities_0002.csv").write_text(
        ",".join(ENTITIES["facilities"].column_names) + "\n"
    )
    [empty] = _load_with_one_good_file(landing, con).values()
    assert (empty.status, empty.rows_read, empty.rows_loaded) == ("LOADED", 0, 0)


def test_ignored_names_and_missing_folders(landing, con):
    write_entity(landing, "users", "_draft.csv", [valid_row("users")])
    write_entity(landing, "users", ".hidden.csv", [valid_row("users")])
    write_entity(landing, "_truth", "users.csv", [valid_row("users")])
    assert ingest_entity(con, landing, "users") == []
    assert ingest_entity(con, landing, "events") == []  # no folder at all
    assert rows(con, "select count(*) from audit.ingested_files") == [(0,)]


# ---------------------------------------------------------------- parquet


def test_parquet_loads_like_csv(tmp_path, con):
    row = valid_row("transfers", created_at="2024-01-05T11:00:00+01:00", responded_at="")
    csv_landing, pq_landing = tmp_path / "csv", tmp_path / "pq"
    write_entity(csv_landing, "transfers", "transfers_0001.csv", [row])
    typed = pl.DataFrame([row]).with_columns(
        pl.col("quantity").cast(pl.Int64),
        pl.col("responded_at").replace("", None),
        *[
            pl.col(c).str.to_datetime("%Y-%m-%dT%H:%M:%S%#z", time_zone="UTC")
            for c in ("created_at", "updated_at")
        ],
    )
    (pq_landing / "transfers").mkdir(parents=True)
    typed.write_parquet(pq_landing / "transfers" / "transfers_0001.parquet")

    ingest_entity(con, csv_landing, "transfers")
    ingest_entity(con, pq_landing, "transfers")
    a, b = rows(con, "select * exclude (_file_id, _source_file, _loaded_at) from raw.transfers")
    assert a == b
    assert rows(con, "select file_format from audit.ingested_files order by file_id") == [
        ("csv",),
        ("parquet",),
    ]


# ---------------------------------------------------------------- idempotence and crashes


def _mixed_landing(landing: Path) -> None:
    for i in range(1, 4):
        write_entity(
            landing,
            "transfers",
            f"transfers_000{i}.csv",
            [valid_row("transfers", 10 * i + j) for j in range(3)]
            + [valid_row("transfers", 10 * i + 9, quantity="-1")],
        )
    write_entity(landing, "users", "users_0001.csv", [valid_row("users", j) for j in range(4)])
    (landing / "users" / "users_0002.csv").write_bytes(b"")


def test_loading_the_same_folder_twice_adds_nothing(landing, con):
    _mixed_landing(landing)
    first = ingest_landing(con, landing)
    before = snapshot(con)
    second = ingest_landing(con, landing)
    assert snapshot(con) == before
    assert {r.status for rs in second.values() for r in rs} == {"UNCHANGED"}
    assert sum(len(rs) for rs in first.values()) == sum(len(rs) for rs in second.values()) == 5


def test_a_file_with_its_recorded_stamp_is_not_read_again(landing, con, monkeypatch):
    """Size and modification time as recorded: the recorded sha256 stands, the bytes are not
    hashed again (every build used to hash every delivered file); any other stamp is hashed
    and judged by its bytes."""
    _mixed_landing(landing)
    ingest_landing(con, landing)
    stamps = rows(
        con,
        "select count(*) from audit.ingested_files where file_size is not null"
        " and file_mtime_ns is not null",
    )
    assert stamps == [(5,)]
    hashed = []
    real_hash = loader.file_sha256
    monkeypatch.setattr(loader, "file_sha256", lambda p: hashed.append(p.name) or real_hash(p))

    before = snapshot(con)
    again = ingest_landing(con, landing)
    assert hashed == []  # nothing read
    assert {r.status for rs in again.values() for r in rs} == {"UNCHANGED"}
    assert snapshot(con) == before

    # touched, same bytes: hashed, still unchanged
    path = landing / "users" / "users_0001.csv"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    touched = ingest_entity(con, landing, "users")
    assert hashed == ["users_0001.csv"]
    assert {r.status for r in touched} == {"UNCHANGED"}
    assert snapshot(con) == before

    # rewritten (new bytes, new stamp): hashed and taken as a new delivery
    hashed.clear()
    write_csv(path, [valid_row("users", 1, full_name="Renamed")])
    rewritten = ingest_entity(con, landing, "users")
    assert hashed == ["users_0001.csv"]  # users_0002 kept its stamp
    assert [r.status for r in rewritten] == ["LOADED", "UNCHANGED"]


def test_a_warehouse_from_before_the_stamps_gains_them_and_keeps_its_rows(landing, con):
    _mixed_landing(landing)
    ingest_landing(con, landing)
    con.execute("alter table audit.ingested_files drop column file_size")
    con.execute("alter table audit.ingested_files drop column file_mtime_ns")
    before = snapshot(con)
    again = ingest_landing(con, landing)  # adds the columns; old rows are judged by hash
    assert {r.status for rs in again.values() for r in rs} == {"UNCHANGED"}
    assert rows(con, "select count(*) from audit.ingested_files where file_size is null") == [(5,)]
    after = snapshot(con)
    assert after["raw.transfers"] == before["raw.transfers"]
    assert len(after["audit.ingested_files"]) == 5


def test_a_changed_file_under_the_same_name_is_a_new_delivery(landing, con):
    path = write_entity(landing, "users", "users_0001.csv", [valid_row("users", 1)])
    ingest_entity(con, landing, "users")
    write_csv(path, [valid_row("users", 1, full_name="Renamed")])
    [result] = ingest_entity(con, landing, "users")
    assert (result.status, result.file_id) == ("LOADED", 2)
    assert rows(con, "select _file_id, full_name from raw.users order by 1") == [
        (1, "FULL_NAME-1"),
        (2, "Renamed"),
    ]


def test_crash_mid_file_leaves_no_partial_file_and_rerun_converges(tmp_path, landing, monkeypatch):
    _mixed_landing(landing)
    clean = duckdb.connect(str(tmp_path / "clean.duckdb"))
    ingest_landing(clean, landing)
    expected = snapshot(clean)
    clean.close()

    real = loader._insert_audit_row
    calls = {"n": 0}

    def crash_on_second_file(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:  # transfers_0002: its raw rows and rejects written, not committed
            raise KeyboardInterrupt("simulated crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(loader, "_insert_audit_row", crash_on_second_file)
    con = duckdb.connect(str(tmp_path / "crash.duckdb"))
    with pytest.raises(KeyboardInterrupt):
        ingest_landing(con, landing)
    con.close()

    con = duckdb.connect(str(tmp_path / "crash.duckdb"))
    assert rows(con, "select source_file from audit.ingested_files order by file_id") == [
        ("users/users_0001.csv",),
        ("users/users_0002.csv",),
        ("transfers/transfers_0001.csv",),
    ]
    assert rows(con, "select distinct _file_id from raw.transfers") == [(3,)]
    assert rows(con, "select distinct _file_id from audit.rejected_rows") == [(3,)]

    monkeypatch.setattr(loader, "_insert_audit_row", real)
    ingest_landing(con, landing)
    assert snapshot(con) == expected
    con.close()


def test_rows_are_conserved_for_every_file(landing, con):
    _mixed_landing(landing)
    results = ingest_landing(con, landing)
    for entity, rs in results.items():
        assert conservation_violations(con, entity) == []
        for r in rs:
            if r.status != "FAILED":
                assert r.rows_read == r.rows_loaded + r.rows_rejected
    assert rows(
        con,
        "select count(*) from audit.ingested_files "
        "where status <> 'FAILED' and rows_read <> rows_loaded + rows_rejected",
    ) == [(0,)]


def test_conservation_check_sees_a_lost_row(landing, con):
    _mixed_landing(landing)
    ingest_landing(con, landing)
    con.execute("delete from raw.transfers where _file_id = 3 and _row_number = 1")
    [bad] = conservation_violations(con, "transfers")
    assert (bad["file_id"], bad["rows_loaded"], bad["rows_in_raw"]) == (3, 3, 2)


def test_every_entity_has_a_schema_covering_its_contract_columns():
    for name, entity in ENTITIES.items():
        assert set(text_schema(name).columns) == set(entity.column_names)


def test_killed_process_mid_file_leaves_no_partial_file(tmp_path, landing):
    """A hard kill (no rollback, no close) inside a file's transaction: DuckDB drops it."""
    import subprocess
    import sys
    import textwrap

    _mixed_landing(landing)
    clean = duckdb.connect(str(tmp_path / "clean.duckdb"))
    ingest_landing(clean, landing)
    expected = snapshot(clean)
    clean.close()

    db = tmp_path / "killed.duckdb"
    script = textwrap.dedent(
        f"""
        import os, duckdb
        from orchestration.ingest import ingest_landing, loader
        real, calls = loader._insert_audit_row, []
        def die(*a, **k):
            calls.append(1)
            if len(calls) == 4:
                os._exit(9)  # the process dies inside the transaction of transfers_0002
            return real(*a, **k)
        loader._insert_audit_row = die
        ingest_landing(duckdb.connect({str(db)!r}), {str(landing)!r})
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr[-2000:]

    con = duckdb.connect(str(db))
    assert rows(con, "select max(file_id) from audit.ingested_files") == [(3,)]
    assert rows(con, "select distinct _file_id from raw.transfers") == [(3,)]
    ingest_landing(con, landing)
    assert snapshot(con) == expected
    con.close()

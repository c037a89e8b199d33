"""Limits of a delivery: a header naming a column twice, values longer than the contract allows.

Through the real ingest path (``ingest_entity``, what the Dagster raw assets and ``custodia
build`` call) into DuckDB files. A header naming a column twice fails its file (FAILED, no rows);
an over-long value rejects its row (``too_long``, the length in the reason, never the value) and
the file's other rows load; a hostile 20 MB cell raises the peak memory of the ingest by less
than 4 times its size (the bytes and polars' parse of them) and is kept in the audit cut to
1,000 characters and a marker.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_ingest import rows, snapshot, valid_row, write_csv, write_entity

from orchestration.contract import ENTITIES
from orchestration.ingest import conservation_violations, ingest_entity, ingest_landing
from orchestration.ingest.validate import STORED_VALUE_MAX_CHARS


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


TRUNCATED = "…[truncated, {n} chars]"


def stored(value: str) -> str:
    """What a reject's record keeps of ``value``."""
    if len(value) <= STORED_VALUE_MAX_CHARS:
        return value
    return value[:STORED_VALUE_MAX_CHARS] + TRUNCATED.format(n=len(value))


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


# ---------------------------------------------------------------- values longer than the limit

LIMITED = [
    (entity.name, column.name, column.max_length)
    for entity in ENTITIES.values()
    for column in entity.columns
    if column.max_length is not None
]


@pytest.mark.parametrize(("entity", "column", "limit"), LIMITED)
def test_a_value_over_its_limit_rejects_its_row_alone(landing, con, entity, column, limit):
    at_limit = "é" * limit  # characters, not bytes: twice as many bytes, still within the limit
    over = "x" * (limit + 1)
    write_entity(
        landing,
        entity,
        f"{entity}_0001.csv",
        [
            valid_row(entity, 1, **{column: at_limit}),
            valid_row(entity, 2, **{column: over}),
            valid_row(entity, 3),
        ],
    )

    [result] = ingest_entity(con, landing, entity)

    assert (result.status, result.rows_read, result.rows_loaded, result.rows_rejected) == (
        "LOADED_WITH_REJECTS",
        3,
        2,
        1,
    )
    assert result.first_reasons == (
        f"row 2: {column} is longer than {limit} characters ({limit + 1})",
    )
    [(row_number, codes, record)] = rows(
        con, "select row_number, reason_codes, record from audit.rejected_rows"
    )
    assert (row_number, codes) == (2, "too_long")
    assert json.loads(record)[column] == stored(over)
    assert rows(con, f"select _row_number, {column} from raw.{entity} order by 1") == [
        (1, at_limit),
        (3, valid_row(entity, 3)[column]),
    ]
    assert conservation_violations(con, entity) == []


def test_an_over_long_value_is_reported_with_the_other_faults_of_its_row(landing, con):
    bad = valid_row("users", 2, user_id="U" * 65, full_name="n" * 201, is_active="maybe")
    write_entity(landing, "users", "users_0001.csv", [valid_row("users", 1), bad])
    ingest_entity(con, landing, "users")
    [(codes, reasons)] = rows(con, "select reason_codes, reasons from audit.rejected_rows")
    assert codes == "bad_boolean;too_long"
    assert reasons == (
        "user_id is longer than 64 characters (65); "
        "full_name is longer than 200 characters (201); "
        "is_active 'maybe' is not true/false"
    )


def test_a_huge_value_in_an_enum_or_typed_column_is_quoted_cut(landing, con):
    """Other reasons quote the value: a hostile one is quoted as the record keeps it."""
    role, stamp = "R" * 5_000, "9" * 3_000
    bad = valid_row("users", 2, role=role, updated_at=stamp, note="z" * 4_000)
    write_entity(landing, "users", "users_0001.csv", [valid_row("users", 1, note=""), bad])
    ingest_entity(con, landing, "users")
    [(codes, reasons, record)] = rows(
        con, "select reason_codes, reasons, record from audit.rejected_rows"
    )
    assert codes == "bad_enum;bad_timestamp"
    assert f"role '{stored(role)}' is not one of PRIMARY_ADMIN" in reasons
    assert f"updated_at '{stored(stamp)}' is not an ISO 8601 timestamp" in reasons
    kept = json.loads(record)
    assert (kept["role"], kept["updated_at"], kept["note"]) == tuple(
        stored(v) for v in (role, stamp, "z" * 4_000)
    )  # an extra column is cut in the record too
    assert kept["full_name"] == bad["full_name"]
    assert len(reasons) < 2 * STORED_VALUE_MAX_CHARS + 200


def test_a_huge_field_in_a_row_of_the_wrong_width_is_cut_in_its_raw_text(landing, con):
    header = ENTITIES["facilities"].column_names
    ragged = f"F-2,{'w' * 20_000},TX,true,2024-01-05T10:00:00Z,stray"
    good = ",".join(valid_row("facilities", 1).values())
    (landing / "facilities").mkdir()
    (landing / "facilities" / "facilities_0001.csv").write_text(
        "\n".join([",".join(header), good, ragged, ""])
    )
    [result] = ingest_entity(con, landing, "facilities")
    assert (result.rows_loaded, result.rows_rejected) == (1, 1)
    [(codes, record)] = rows(con, "select reason_codes, record from audit.rejected_rows")
    limit = STORED_VALUE_MAX_CHARS * len(header)  # as much per field of the header
    assert codes == "wrong_field_count"
    assert json.loads(record) == {"_raw": ragged[:limit] + TRUNCATED.format(n=len(ragged))}


# ---------------------------------------------------------------- a 20 MB cell

HUGE_CHARS = 20_000_000

_MEASURE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import duckdb
    from orchestration.ingest import conservation_violations, ingest_entity

    def kib(field):  # this process's own figures: ru_maxrss would start from its parent's peak
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith(field + ":"))

    landing, warehouse = Path(sys.argv[1]), sys.argv[2]
    con = duckdb.connect(warehouse)
    # the same work on a small file first: imports, thread pools and DuckDB's start-up are
    # then paid for, and what the big file adds is what the peak grows by
    ingest_entity(con, landing / "warmup", "users")
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # the peak (VmHWM) starts again from the current size
    before = kib("VmRSS")
    [result] = ingest_entity(con, landing / "huge", "users")
    peak = kib("VmHWM")
    assert conservation_violations(con, "users") == []
    con.close()
    print(json.dumps({
        "status": result.status, "loaded": result.rows_loaded, "rejected": result.rows_rejected,
        "first_reasons": result.first_reasons, "before_kib": before, "peak_kib": peak,
    }))
    """
)


def _users_file(path: Path, full_name: str) -> None:
    rows_ = [
        valid_row("users", 1, user_id="U1"),
        valid_row("users", 2, user_id="U2", full_name=full_name),
        valid_row("users", 3, user_id="U3"),
    ]
    write_csv(path, rows_)


def test_a_20_mb_full_name_is_rejected_and_costs_memory_in_proportion(tmp_path):
    landing = tmp_path / "landing"
    _users_file(landing / "warmup" / "users" / "users_0001.csv", "small")
    _users_file(landing / "huge" / "users" / "users_0001.csv", "x" * HUGE_CHARS)
    warehouse = tmp_path / "w.duckdb"

    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(landing), str(warehouse)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])

    assert (got["status"], got["loaded"], got["rejected"]) == ("LOADED_WITH_REJECTS", 2, 1)
    assert got["first_reasons"] == [
        f"row 2: full_name is longer than 200 characters ({HUGE_CHARS})"
    ]
    # the bytes read and the frame parsed from them are unavoidable (2 x 20 MB); before the
    # limit the value was also loaded and pandera copied it into its messages (over 5 x)
    growth_mb = (got["peak_kib"] - got["before_kib"]) / 1024
    assert growth_mb < 4 * HUGE_CHARS / 1e6, f"peak grew by {growth_mb:.0f} MB"

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert rows(con, "select _file_id, user_id from raw.users order by all") == [
            (1, "U1"),
            (1, "U2"),
            (1, "U3"),
            (2, "U1"),  # the big file: its first and last rows
            (2, "U3"),
        ]
        assert rows(con, "select max(length(full_name)) from raw.users") == [(len("FULL_NAME-3"),)]
        [(row_number, reasons, record)] = rows(
            con, "select row_number, reasons, record from audit.rejected_rows"
        )
    finally:
        con.close()
    assert (row_number, reasons) == (2, f"full_name is longer than 200 characters ({HUGE_CHARS})")
    kept = json.loads(record)
    assert kept["full_name"] == "x" * 1_000 + f"…[truncated, {HUGE_CHARS} chars]"
    assert kept["user_id"] == "U2" and len(record) < 2_000


# ---------------------------------------------------------------- reruns


def test_rerunning_the_same_files_changes_nothing(tmp_path, landing):
    write_entity(landing, "transfers", "transfers_0001.csv", [valid_row("transfers", 1)])
    _deliver_duplicated_header(landing)
    _deliver_duplicated_parquet(landing)
    write_entity(
        landing,
        "users",
        "users_0001.csv",
        [
            valid_row("users", 1),
            valid_row("users", 2, full_name="x" * 300_000, email="e" * 255),
            valid_row("users", 3, role="R" * 2_000),
        ],
    )
    warehouse = tmp_path / "w.duckdb"
    counts = (
        "select (select count(*) from raw.users), (select count(*) from raw.transfers), "
        "(select count(*) from audit.ingested_files), (select count(*) from audit.rejected_rows)"
    )

    con = duckdb.connect(str(warehouse))
    first = ingest_landing(con, landing)
    once, once_counts = snapshot(con), rows(con, counts)
    con.close()
    con = duckdb.connect(str(warehouse))  # a later run: a new process would open it afresh
    second = ingest_landing(con, landing)
    assert rows(con, counts) == once_counts == [(1, 1, 4, 2)]
    assert snapshot(con) == once
    con.close()

    assert [r.status for r in first["transfers"]] == ["LOADED", "FAILED", "FAILED"]
    assert [r.status for r in first["users"]] == ["LOADED_WITH_REJECTS"]
    assert {r.status for rs in second.values() for r in rs} == {"UNCHANGED"}

"""Hostile input: fuzzing the CSV and Parquet readers through the real loader.

Whatever bytes arrive, ingestion never crashes: each file is recorded in ``audit.ingested_files``
as loaded (every data row loaded or rejected with a reason: rows_read = loaded + rejected, and
the rows really are in ``raw``/``audit.rejected_rows``) or as a FAILED whole-file fault with its
error and no rows. Text survives the trip exactly: quotes, delimiters, newlines, CR, tabs,
formulas, unicode and huge fields come out of ``raw`` as they went in. A file that is not UTF-8
never loads a row (no mojibake).

The end-to-end check of formula-bearing values (ingest → marts → the dashboard's CSV download)
runs on a real build in ``test_reliability_publish.py``.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import duckdb
import polars as pl
import pytest
from histories import HOSTILE_TEXT, budget, csv_line
from hypothesis import example, given, settings
from hypothesis import strategies as st
from polars.testing.parametric import column, dataframes
from test_ingest import valid_row

from orchestration.contract import ENTITIES
from orchestration.ingest import conservation_violations, ingest_entity
from orchestration.ingest.loader import FileResult

USER_COLUMNS = list(ENTITIES["users"].column_names)


def ingest_bytes(data: bytes, name: str, entity: str = "users") -> tuple[FileResult, list]:
    """Deliver ``data`` as ``<entity>/<name>`` into a fresh warehouse; (result, raw rows)."""
    with tempfile.TemporaryDirectory(prefix="custodia_hostile_") as tmp:
        folder = Path(tmp) / entity
        folder.mkdir()
        (folder / name).write_bytes(data)
        con = duckdb.connect()
        try:
            [result] = ingest_entity(con, Path(tmp), entity)  # must not raise
            assert conservation_violations(con, entity) == []
            (n_audit,) = con.execute("select count(*) from audit.ingested_files").fetchall()[0]
            assert n_audit == 1, "every file gets its audit row"
            raw = con.execute(f"select * from raw.{entity} order by _row_number").fetchall()
            (n_rejected,) = con.execute("select count(*) from audit.rejected_rows").fetchall()[0]
            reasons = con.execute("select reasons from audit.rejected_rows").fetchall()
        finally:
            con.close()
    assert result.status in ("LOADED", "LOADED_WITH_REJECTS", "FAILED"), result
    if result.status == "FAILED":
        assert result.error and not raw and n_rejected == 0, result
    else:
        assert result.rows_read == result.rows_loaded + result.rows_rejected, result
        assert len(raw) == result.rows_loaded and n_rejected == result.rows_rejected
        assert all(r for (r,) in reasons), "every rejected row has a reason"
    return result, raw


def too_long(entity: str, record: dict[str, str]) -> str:
    """The reasons ingestion gives ``record``'s values over their column's limit ("" if none)."""
    return "; ".join(
        f"{c.name} is longer than {c.max_length} characters ({len(record[c.name])})"
        for c in ENTITIES[entity].columns
        if c.max_length is not None and len(record[c.name]) > c.max_length
    )


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --------------------------------------------------------------------------- random bytes


@given(
    data=st.one_of(
        st.binary(max_size=3000),
        # a valid header, then anything
        st.binary(max_size=2000).map(lambda b: ",".join(USER_COLUMNS).encode() + b"\n" + b),
        st.binary(max_size=2000).map(lambda b: b"PAR1" + b + b"PAR1"),  # Parquet-looking
    ),
    name=st.sampled_from(["users_1.csv", "users_1.parquet", "users_1.CSV", "users_1.txt"]),
)
@settings(max_examples=budget(100, 5000))
def test_random_bytes_never_crash_ingest(data, name):
    result, _ = ingest_bytes(data, name)
    if name.lower().endswith(".csv") and not _utf8(data):
        assert result.status == "FAILED", "a file that is not UTF-8 never loads a row"


# --------------------------------------------------------------------------- hostile text

hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(HOSTILE_TEXT),
    st.text(alphabet=",\"'\r\n\t =+-@|;\\", max_size=12),
)
HUGE = "y" * 200_000  # larger than the field limit of Python's csv module (and any column's)


@given(
    rows=st.lists(
        st.tuples(hostile_text, hostile_text, hostile_text, st.booleans()), min_size=1, max_size=6
    ),
    bom=st.booleans(),
    newline=st.sampled_from(["\n", "\r\n"]),
    quote_all=st.booleans(),
    final_newline=st.booleans(),
    huge=st.booleans(),
)
# counterexamples found by this test (both failed a valid file as "truncated"):
# a multi-line text field in the last row, and a field over the csv module's limit there
@example(
    rows=[("", "", "two\nlines", False)],
    bom=False,
    newline="\n",
    quote_all=False,
    final_newline=False,
    huge=False,
)
@example(rows=[("", "", "", False)], bom=True, newline="\r\n", quote_all=True,
         final_newline=False, huge=True)  # fmt: skip
@settings(max_examples=budget(60, 3000))
def test_hostile_text_in_csv_round_trips_exactly(
    rows, bom, newline, quote_all, final_newline, huge
):
    if huge:  # in the last row: the one the truncation check parses
        rows = [*rows[:-1], (HUGE, *rows[-1][1:])]
    records = []
    for i, (full_name, email, region, malformed) in enumerate(rows):
        record = valid_row(
            "users", i, user_id=f"U{i}", full_name=full_name, email=email, region=region
        )
        if malformed:
            record["is_active"] = "yes"  # bad_boolean
        records.append(record)
    lines = [USER_COLUMNS, *([r[c] for c in USER_COLUMNS] for r in records)]
    text = "".join(csv_line(fields, quote_all) + newline for fields in lines)
    if not final_newline:
        text = text[: -len(newline)]
    data = ("\ufeff" if bom else "") + text
    result, raw = ingest_bytes(data.encode("utf-8"), "users_1.csv")
    assert result.status != "FAILED", result.error
    assert result.rows_read == len(rows)
    rejected = [
        bad or bool(too_long("users", r)) for r, (*_, bad) in zip(records, rows, strict=True)
    ]
    assert result.rows_rejected == sum(rejected)
    loaded = {r[0]: r for r in raw}
    for record, bad in zip(records, rejected, strict=True):
        if bad:
            assert record["user_id"] not in loaded
            continue
        got = loaded[record["user_id"]]
        for name in ("full_name", "email", "region"):
            value = got[USER_COLUMNS.index(name)]
            assert value == (record[name] or None), (name, record[name], value)


@given(
    rows=st.lists(
        st.tuples(hostile_text, hostile_text, st.sampled_from([0, 0, 0, -2, -1, 1, 3])),
        min_size=1,
        max_size=6,
    ),
    newline=st.sampled_from(["\n", "\r\n"]),
    quote_all=st.booleans(),
)
@settings(max_examples=budget(60, 3000))
def test_rows_of_the_wrong_width_are_rejected_alone_among_hostile_text(rows, newline, quote_all):
    """A row with fields added or dropped is rejected as ``wrong_field_count`` (its raw text as
    the record), whatever its values; every other row loads exactly, quoted commas and newlines
    included, unless a value is longer than its column allows (``too_long``)."""
    lines, expected = [csv_line(USER_COLUMNS, quote_all)], {}
    width = len(USER_COLUMNS)
    for i, (full_name, region, extra) in enumerate(rows):
        record = valid_row("users", i, user_id=f"U{i}", full_name=full_name, region=region)
        fields = [record[c] for c in USER_COLUMNS]
        fields = fields[:extra] if extra < 0 else fields + ["x"] * extra
        lines.append(csv_line(fields, quote_all))
        if extra:
            expected[i + 1] = f"row has {len(fields)} fields, the header has {width}"
        elif too_long("users", record):
            expected[i + 1] = too_long("users", record)
    data = (newline.join(lines) + newline).encode("utf-8")
    result, raw = ingest_bytes(data, "users_1.csv")
    assert result.status != "FAILED", result.error
    assert (result.rows_read, result.rows_rejected) == (len(rows), len(expected))
    assert sorted(r[-2] for r in raw) == [n for n in range(1, len(rows) + 1) if n not in expected]
    assert (
        result.first_reasons
        == tuple(f"row {n}: {reason}" for n, reason in expected.items())[
            : len(result.first_reasons)
        ]
    )
    for got in raw:
        i = got[-2] - 1
        assert got[USER_COLUMNS.index("full_name")] == (rows[i][0] or None)


@given(
    name=st.text(min_size=1, max_size=20),
    encoding=st.sampled_from(["latin-1", "cp1252", "utf-16", "utf-32", "utf-8-sig", "utf-8"]),
)
@settings(max_examples=budget(40, 2000))
def test_wrong_encodings_fail_the_file_or_load_the_exact_text(name, encoding):
    record = valid_row("users", 1, user_id="U1", full_name=name)
    text = "".join(csv_line(f) + "\n" for f in [USER_COLUMNS, [record[c] for c in USER_COLUMNS]])
    data = text.encode(encoding, errors="replace")
    result, raw = ingest_bytes(data, "users_1.csv")
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if not _utf8(body):
        assert result.status == "FAILED" and "UTF-8" in result.error, result
    else:  # valid UTF-8 (ASCII in any of these encodings, or UTF-8 itself): loads as it reads
        bare = "utf-8" if encoding == "utf-8-sig" else encoding  # the BOM opens the file only
        expected = name.encode(bare, errors="replace").decode("utf-8")
        assert result.status == "LOADED", result
        assert [r[USER_COLUMNS.index("full_name")] for r in raw] == [expected or None]


# --------------------------------------------------------------------------- Parquet


def _parquet(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


@given(
    frame=dataframes(
        cols=[column(name) for name in USER_COLUMNS],  # every contract column, random types
        max_size=6,
        excluded_dtypes=[pl.Object],
    ),
    drop=st.sets(st.sampled_from(USER_COLUMNS), max_size=2),
)
@settings(max_examples=budget(40, 3000))
def test_parquet_of_any_column_types_never_crashes_ingest(frame, drop):
    frame = frame.drop(sorted(drop))
    result, _ = ingest_bytes(_parquet(frame), "users_1.parquet")
    if drop:
        assert result.status == "FAILED"  # missing columns (or an unreadable one)
    elif result.status != "FAILED":
        assert result.rows_read == frame.height


@pytest.mark.parametrize(
    "frame",
    [
        pl.DataFrame({c: [[1, 2]] if c == "user_id" else ["x"] for c in USER_COLUMNS}),
        pl.DataFrame({c: [b"\xff\xfe"] if c == "full_name" else ["x"] for c in USER_COLUMNS}),
        pl.DataFrame({c: ["x"] for c in USER_COLUMNS}).with_columns(
            pl.duration(seconds=1).alias("updated_at")  # found by the fuzz test above
        ),
    ],
    ids=["list_column", "non_utf8_binary_column", "duration_column"],
)
def test_parquet_column_that_cannot_be_text_fails_the_file_not_the_run(frame):
    """Regression: these raised a polars error out of ingest, failing the whole build."""
    result, _ = ingest_bytes(_parquet(frame), "users_1.parquet")
    assert result.status == "FAILED" and "cannot be read as text" in result.error, result


@pytest.mark.parametrize("column", ["note", "full_name"])
def test_huge_field_in_a_last_row_without_final_newline_loads(column):
    """Regression: Python's csv field limit made the truncation check fail a valid file.

    In a column outside the contract (``note``) the row loads; in ``full_name`` it is read,
    and rejected as too long, not failed as a cut-off file."""
    record = valid_row("users", 1, user_id="U1", note="")
    record[column] = HUGE
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([list(record), list(record.values())])
    result, raw = ingest_bytes(out.getvalue().rstrip("\n").encode(), "users_1.csv")
    if column == "note":
        assert (result.status, result.extra_columns) == ("LOADED", ("note",)), result.error
        assert raw[0][USER_COLUMNS.index("full_name")] == record["full_name"]
    else:
        assert (result.status, result.rows_read, raw) == ("LOADED_WITH_REJECTS", 1, []), result
        assert result.first_reasons == (f"row 1: {too_long('users', record)}",)

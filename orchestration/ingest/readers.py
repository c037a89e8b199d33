"""Find delivered files in the landing folder and read them as all-text polars frames.

Whole-file faults raise ``FileFault`` with a plain-language message; the loader records them as
a FAILED delivery in ``audit.ingested_files`` and carries on with the next file.

A CSV record with more or fewer fields than the header (a stray or missing comma) is not a
whole-file fault: it keeps its place in the frame (so row numbers do not shift) and is listed in
``TextFile.ragged`` with its raw text, to be rejected as ``wrong_field_count`` on its own.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

FORMATS = {".csv": "csv", ".parquet": "parquet"}


class FileFault(Exception):
    """A delivered file that cannot be taken as a whole (the message says why)."""


@dataclass(frozen=True)
class Delivery:
    """One file found in the landing folder."""

    path: Path
    source_file: str  # relative to the landing folder, forward slashes
    entity: str

    @property
    def file_format(self) -> str:
        """``csv``, ``parquet`` or the unknown extension itself (e.g. ``json``)."""
        suffix = self.path.suffix.lower()
        return FORMATS.get(suffix, suffix.lstrip(".") or "unknown")


def _ignored(name: str) -> bool:
    return name.startswith(("_", "."))


def discover(landing: Path, entity: str) -> list[Delivery]:
    """Files of ``entity`` under ``landing/<entity>/``, in lexical order of relative path.

    Names starting with ``_`` or ``.`` are ignored (files and folders); every other file is a
    delivery, including unknown extensions (they are recorded as FAILED, not silently skipped).
    """
    folder = Path(landing) / entity
    if not folder.is_dir():
        return []
    found = []
    for path in folder.rglob("*"):
        rel = path.relative_to(landing)
        if not path.is_file() or any(_ignored(part) for part in rel.parts):
            continue
        found.append(Delivery(path=path, source_file=rel.as_posix(), entity=entity))
    return sorted(found, key=lambda d: d.source_file)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


RAGGED_SCHEMA = {
    "row_number": pl.Int64,
    "fields": pl.Int64,
    "header_fields": pl.Int64,
    "raw": pl.String,
}


@dataclass(frozen=True)
class TextFile:
    """A file read as text: every column ``String``, one row per data record."""

    frame: pl.DataFrame
    # records whose field count differs from the header's: row_number (1-based data row),
    # fields, header_fields, raw (the record's text); their row in ``frame`` is meaningless
    ragged: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=RAGGED_SCHEMA))


def read_text(data: bytes, file_format: str) -> TextFile:
    """Every column of the file as ``String``; raises ``FileFault`` on a whole-file fault."""
    if file_format == "csv":
        return _read_csv(data)
    if file_format == "parquet":
        return TextFile(_read_parquet(data))
    raise FileFault(f"unknown file format '{file_format}': expected one of {', '.join(FORMATS)}")


_MORE_FIELDS = "found more fields than defined"


def _read_csv(data: bytes) -> TextFile:
    if not data[:4096].strip() and not data.strip():  # cheap for big files
        raise FileFault("empty file: no header row")
    # polars checks UTF-8 in the data but reads a header lossily: check the header here
    _raise_if_not_utf8(data[: data.find(b"\n") + 1 or len(data)])
    _check_not_bare_cr(data)
    _check_not_truncated(data)
    _check_header_names_unique(data)
    return _read_csv_records(data)


def _read_csv_records(data: bytes) -> TextFile:
    try:
        frame = _polars_csv(data, ragged=False)
    except FileFault as fault:
        if _MORE_FIELDS not in str(fault):
            raise
        # a record with too many fields: read again with it cut to the header's width and
        # find the ragged records; if they cannot be located the file fails as before
        frame = _polars_csv(data, ragged=True)
        ragged = _ragged_records(data, frame)
        if ragged is None:
            raise
        return TextFile(frame, ragged)
    # polars pads a record with too few fields with nulls: the last column is then null.
    # Only then (cheap to check) look for short records.
    if frame.height and frame.width and frame.get_column(frame.columns[-1]).null_count():
        ragged = _ragged_records(data, frame)
        if ragged is not None:
            return TextFile(frame, ragged)
    return TextFile(frame)


def _polars_csv(data: bytes, ragged: bool) -> pl.DataFrame:
    try:
        return pl.read_csv(
            io.BytesIO(data), infer_schema=False, encoding="utf8", truncate_ragged_lines=ragged
        )
    except (pl.exceptions.PolarsError, ValueError) as exc:
        if "utf-8" in str(exc).lower() or "utf8" in str(exc).lower():
            _raise_if_not_utf8(data)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FileFault(f"unreadable CSV: {first}") from None


def _ragged_records(data: bytes, frame: pl.DataFrame) -> pl.DataFrame | None:
    """The data records whose field count is not the header's, or None if they cannot be told.

    CSV-aware and vectorised: a newline or comma is a record or field separator when an even
    number of quote characters precede it (an escaped ``""`` counts twice), so a quoted field
    holding commas or newlines is not ragged. Blank lines are not ragged (they stay rows of
    nulls, rejected by validation as before). None when this split does not give the header
    and the same number of records as polars read (a malformed file): the caller then keeps
    the old whole-file behaviour.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(buf == ord('"'))

    def outside_quotes(char: str) -> np.ndarray:
        at = np.flatnonzero(buf == ord(char))
        return at[np.searchsorted(quotes, at) % 2 == 0] if len(quotes) else at

    ends = outside_quotes("\n")
    starts = np.concatenate(([0], ends + 1))
    ends = np.concatenate((ends, [len(buf)]))
    if starts[-1] == len(buf):  # a final newline closes the last record: no empty record after
        starts, ends = starts[:-1], ends[:-1]
    commas = outside_quotes(",")
    fields = np.searchsorted(commas, ends) - np.searchsorted(commas, starts) + 1
    length = ends - starts
    last = buf[np.maximum(ends - 1, 0)]
    blank = (length == 0) | ((length == 1) & (last == ord("\r")))
    header_fields = int(fields[0]) if len(fields) else 0
    if len(fields) - 1 != frame.height or header_fields != frame.width:
        return None
    bad = np.flatnonzero((fields[1:] != header_fields) & ~blank[1:])
    raw = []
    for i in bad + 1:
        text = data[starts[i] : ends[i]]
        raw.append(text.removesuffix(b"\r").decode("utf-8", "replace"))
    return pl.DataFrame(
        {
            "row_number": bad + 1,
            "fields": fields[bad + 1],
            "header_fields": [header_fields] * len(bad),
            "raw": raw,
        },
        schema=RAGGED_SCHEMA,
    )


def _check_header_names_unique(data: bytes) -> None:
    """A header naming a column twice: which of the two values is the column's cannot be told.

    polars would keep the first and rename the second (``quantity_duplicated_0``, an extra
    column), silently dropping one value of every row; the file is refused instead.
    """
    end = _first_record_end(data)
    try:
        header = pl.read_csv(
            io.BytesIO(data[:end]), has_header=False, infer_schema=False, encoding="utf8"
        )
    except (pl.exceptions.PolarsError, ValueError):
        return  # an unreadable header: the full read fails the file with polars' reason
    if header.height:
        _raise_if_duplicated(["" if v is None else v for v in header.row(0)], "header")


def _raise_if_duplicated(names: list[str], where: str) -> None:
    """Raise ``FileFault`` naming every column ``names`` holds more than once."""
    counts = Counter(names)
    repeated = [f"'{n}' ({k} times)" for n, k in counts.items() if k > 1]
    if repeated:
        raise FileFault(
            f"{where} names a column more than once: {', '.join(repeated)}; "
            "each column must be named once"
        )


def _first_record_end(data: bytes) -> int:
    """Offset just past the first CSV record (the header): its first newline outside quotes."""
    start, pos, quotes = 0, data.find(b"\n"), 0
    while pos != -1:
        quotes += data.count(b'"', start, pos)  # an escaped quote "" counts twice
        if quotes % 2 == 0:
            return pos + 1
        start, pos = pos, data.find(b"\n", pos + 1)
    return len(data)


def _check_not_bare_cr(data: bytes) -> None:
    """Old Mac line endings (a bare CR, no LF): polars would read one long header row."""
    if b"\n" not in data and b"\r" in data.rstrip(b"\r"):
        raise FileFault("line endings are bare CR (\\r); use LF or CRLF")


def _raise_if_not_utf8(data: bytes) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileFault(
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "exports must be UTF-8"
        ) from None


def _check_not_truncated(data: bytes) -> None:
    """A file cut off mid-row: no final newline and a last row shorter than the header."""
    if data.endswith((b"\n", b"\r")) or b"\n" not in data:
        return
    head, _, _ = data.partition(b"\n")
    last = _last_record(data)
    try:
        header = next(csv.reader([head.decode("utf-8", "replace").rstrip("\r")]))
        row = next(csv.reader(io.StringIO(last.decode("utf-8", "replace"), newline="")))
    except csv.Error:
        # limits of Python's csv module (a field over 128 KiB, a NUL byte), not a cut-off
        # row: leave the file to polars, which fails it if it really is unreadable
        return
    except StopIteration:
        raise FileFault("truncated file: the last row cannot be parsed") from None
    if len(row) < len(header):
        raise FileFault(
            f"truncated file: last row has {len(row)} of {len(header)} fields and no final newline"
        )


def _last_record(data: bytes) -> bytes:
    """The last CSV record: it starts after the last newline that is not inside quotes.

    A newline is inside a quoted field when an odd number of quote characters precede it
    (an escaped quote ``""`` counts twice), so a last record spanning lines is kept whole.
    """
    pos = data.rfind(b"\n")
    quotes_before = data.count(b'"', 0, pos)
    while pos != -1 and quotes_before % 2:
        prev = data.rfind(b"\n", 0, pos)
        quotes_before -= data.count(b'"', prev + 1, pos)
        pos = prev
    return data[pos + 1 :]


def _read_parquet(data: bytes) -> pl.DataFrame:
    if not data:
        raise FileFault("empty file: not a Parquet file")
    try:
        df = pl.read_parquet(io.BytesIO(data))
    except Exception as exc:  # polars/arrow raise several types for a corrupt file
        if isinstance(exc, pl.exceptions.DuplicateError):
            # Parquet allows a schema naming a column twice; polars refuses it: name them all
            _raise_if_duplicated(_parquet_names(data), "schema")
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FileFault(f"unreadable Parquet: {first}") from None
    try:
        return df.select(_as_text(name, dtype) for name, dtype in df.schema.items())
    except pl.exceptions.PolarsError:
        # a column no export type maps to (a list, non-UTF-8 binary...): a whole-file fault,
        # not a crash of the ingest run
        for name, dtype in df.schema.items():
            try:
                df.select(_as_text(name, dtype))
            except pl.exceptions.PolarsError:
                raise FileFault(
                    f"unreadable Parquet: column '{name}' of type {dtype} cannot be read as text"
                ) from None
        raise


def _parquet_names(data: bytes) -> list[str]:
    try:
        return pq.read_schema(io.BytesIO(data)).names
    except Exception:  # unreadable after all: the caller reports polars' error
        return []


def _as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """Render a typed Parquet column as the text a CSV export would hold."""
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            col = col.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return col.dt.to_string("%Y-%m-%dT%H:%M:%S%.fZ").alias(name)
    if isinstance(dtype, pl.Date):
        return col.dt.to_string("%Y-%m-%d").alias(name)
    if dtype == pl.Boolean:
        return pl.when(col).then(pl.lit("true")).when(~col).then(pl.lit("false")).alias(name)
    return col.cast(pl.String).alias(name)

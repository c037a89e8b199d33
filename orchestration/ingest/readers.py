"""Find delivered files in the landing folder and read them as all-text polars frames.

Whole-file faults raise ``FileFault`` with a plain-language message; the loader records them as
a FAILED delivery in ``audit.ingested_files`` and carries on with the next file.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import polars as pl

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


def read_text(data: bytes, file_format: str) -> pl.DataFrame:
    """Every column of the file as ``String``; raises ``FileFault`` on a whole-file fault."""
    if file_format == "csv":
        return _read_csv(data)
    if file_format == "parquet":
        return _read_parquet(data)
    raise FileFault(f"unknown file format '{file_format}': expected one of {', '.join(FORMATS)}")


def _read_csv(data: bytes) -> pl.DataFrame:
    if not data[:4096].strip() and not data.strip():  # cheap for big files
        raise FileFault("empty file: no header row")
    # polars checks UTF-8 in the data but reads a header lossily: check the header here
    _raise_if_not_utf8(data[: data.find(b"\n") + 1 or len(data)])
    _check_not_truncated(data)
    try:
        return pl.read_csv(io.BytesIO(data), infer_schema=False, encoding="utf8")
    except (pl.exceptions.PolarsError, ValueError) as exc:
        if "utf-8" in str(exc).lower() or "utf8" in str(exc).lower():
            _raise_if_not_utf8(data)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FileFault(f"unreadable CSV: {first}") from None


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

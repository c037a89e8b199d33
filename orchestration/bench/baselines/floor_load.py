"""The floor's loading step: the landing folder's files straight into in-memory DuckDB tables.

What a strong DuckDB user would write by hand instead of an ingestion pipeline: per entity, one
``read_csv`` over all its CSV files with explicit column types (timestamps and dates typed by
the reader, which skips a row it cannot parse: ``ignore_errors``; integers are checked as text,
since DuckDB would round ``1.5`` to 2), and one
``read_parquet`` per Parquet file (values rendered as text, as ingestion reads them, then typed
with ``try_cast``). A row that cannot be typed is skipped: missing key or required value,
unparsable timestamp, date, boolean, integer or decimal, value outside its enumeration,
negative quantity or amount, id or text over its length. Ingestion keeps those rows with their
reasons in ``audit.rejected_rows``; the floor drops them. One difference, on purpose: DuckDB's
reader also takes a timestamp written with a space instead of the ``T`` or a date alone, which
ingestion rejects (no export has shown either).

The tables land in ``w.raw.<entity>`` (an attached in-memory catalog) with the lineage columns
the newest-version rule needs, ``_file_id`` (the file's position in the order ingestion sees
the files: lexical order of the path, ``orchestration.ingest.readers.discover``) and
``_row_number`` (increasing with the row's position in its file), so the hand-written steps of
``duckdb_sql`` run on them unchanged.

A file ingestion would record as FAILED as a whole (unreadable, a contract column missing) is
skipped whole; an unknown extension too. The contract (``orchestration.contract``) is the one
source of columns, types, enumerations and limits.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.contract import ENTITIES, Column, Entity
from orchestration.ingest.readers import discover

_DECIMAL = {"money": ("decimal(18,2)", 2), "rate": ("decimal(9,4)", 4)}
# typed by the CSV reader itself (a value it cannot parse skips the row: ignore_errors);
# the other columns are read as text and checked here
_NATIVE = {"timestamp": "TIMESTAMPTZ", "date": "DATE"}
# the dialect of the export contract, not sniffed: a sniffer that sees no quoted field in its
# sample would read a later quoted "" as two quote characters instead of an empty value
_CSV = "header = true, delim = ',', quote = '\"', escape = '\"'"


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _typed(column: Column, native: bool) -> tuple[str, list[str]]:
    """(typed expression, conditions a readable value meets) over column ``v``: text, or the
    reader's typed value for the ``_NATIVE`` types when ``native``."""
    v = f'"{column.name}"'
    empty = f"({v} is null or {v} = '')"
    checks = []
    if native and column.type in _NATIVE:
        expr = f"{v}::timestamp" if column.type == "timestamp" else v
        empty = f"({v} is null)"
    elif column.type in ("id", "text", "enum"):
        expr = f"nullif({v}, '')"
        if column.enum is not None:
            allowed = ", ".join(_sql_text(x) for x in column.enum)
            checks.append(f"({empty} or {v} in ({allowed}))")
        if column.max_length is not None:
            checks.append(f"({empty} or length({v}) <= {column.max_length})")
    elif column.type == "timestamp":
        # ISO 8601 with a 'T', UTC 'Z', an offset (converted to UTC) or no zone (read as UTC)
        expr = f"try_cast(try_cast({v} as timestamptz) as timestamp)"
        checks.append(f"({empty} or (substr({v}, 11, 1) = 'T' and {expr} is not null))")
    elif column.type == "date":
        expr = f"try_strptime({v}, '%Y-%m-%d')::date"
        checks.append(f"({empty} or {expr} is not null)")
    elif column.type == "boolean":
        expr = f"case {v} when 'true' then true when 'false' then false end"
        checks.append(f"({empty} or {v} in ('true', 'false'))")
    elif column.type == "integer":
        expr = f"try_cast({v} as bigint)"
        checks.append(f"({empty} or regexp_full_match({v}, '-?[0-9]+') and {expr} is not null)")
    else:  # money, rate: at most 2 (4) places, never rounded by the cast
        sql_type, places = _DECIMAL[column.type]
        expr = f"try_cast({v} as {sql_type})"
        pattern = f"-?[0-9]+(\\.[0-9]{{1,{places}}})?"
        checks.append(f"({empty} or (regexp_full_match({v}, '{pattern}') and {expr} is not null))")
    if column.required:
        checks.append(f"not {empty}")
    if column.non_negative:
        checks.append(f"coalesce({expr} >= 0, true)")
    return expr, checks


def _columns(entity: Entity, native: bool) -> tuple[str, str]:
    """(select list of the typed contract columns, where clause) over one read."""
    exprs, checks = [], []
    for column in entity.columns:
        expr, cond = _typed(column, native)
        exprs.append(f'{expr} as "{column.name}"')
        checks += cond
    return ", ".join(exprs), " and ".join(checks)


def _usable(con: duckdb.DuckDBPyConnection, entity: Entity, reader: str) -> dict | None:
    """The file's column types, or None when it cannot be read or lacks a contract column
    (ingestion records such a file as FAILED and loads none of it)."""
    try:
        types = {r[0]: r[1] for r in con.execute(f"describe select * from {reader}").fetchall()}
    except duckdb.Error:
        return None
    return types if set(entity.column_names) <= set(types) else None


def _as_text(name: str, source_type: str) -> str:
    """A Parquet column as ingestion reads it: text, datetimes rendered in ISO 8601."""
    if source_type.startswith("TIMESTAMP"):
        value = f'"{name}"::timestamp' if "TIME ZONE" in source_type else f'"{name}"'
        return f"strftime({value}, '%Y-%m-%dT%H:%M:%S.%f') as \"{name}\""
    return f'cast("{name}" as varchar) as "{name}"'


def _parquet_select(con, entity: Entity, path: Path, file_id: int) -> str | None:
    reader = f"read_parquet({_sql_text(str(path))})"
    types = _usable(con, entity, reader)
    if types is None:
        return None
    text = ", ".join(_as_text(c, types[c]) for c in entity.column_names)
    select, where = _columns(entity, native=False)
    return (
        f"select {select}, {file_id}::bigint as _file_id, _row_number\n"
        f"from (select {text}, row_number() over () as _row_number from {reader})\n"
        f"where {where}"
    )


def _csv_select(con, entity: Entity, paths: list[Path], all_paths: list[str]) -> str | None:
    """Every usable CSV file of the entity in one typed read; ``_file_id`` is the file's
    position in ``all_paths`` (delivery order), ``_row_number`` increases within a file (the
    reader keeps the files' order and their rows' order)."""
    one = f"{_CSV}, all_varchar = true"
    files = [str(p) for p in paths if _usable(con, entity, f"read_csv({_sql_text(str(p))}, {one})")]
    if not files:
        return None
    types = {c.name: _NATIVE.get(c.type, "VARCHAR") for c in entity.columns}
    reader = (
        f"read_csv({files}, {_CSV}, union_by_name = true, filename = true, "
        f"ignore_errors = true, types = {types}, auto_type_candidates = ['VARCHAR'])"
    )
    select, where = _columns(entity, native=True)
    return (
        f"select {select}, list_position({all_paths}, filename)::bigint as _file_id,\n"
        f"row_number() over () as _row_number from {reader}\nwhere {where}"
    )


def load_entity(con: duckdb.DuckDBPyConnection, landing: Path, entity: Entity) -> None:
    """The entity's files of ``landing`` into ``w.raw.<entity>``."""
    con.execute("set TimeZone = 'UTC'")
    con.execute("attach if not exists ':memory:' as w")
    con.execute("create schema if not exists w.raw")
    paths = [d.path for d in discover(Path(landing), entity.name)]
    all_paths = [str(p) for p in paths]
    csv = [p for p in paths if p.suffix.lower() == ".csv"]
    selects = [_csv_select(con, entity, csv, all_paths)] + [
        _parquet_select(con, entity, p, n)
        for n, p in enumerate(paths, start=1)
        if p.suffix.lower() == ".parquet"
    ]
    selects = [s for s in selects if s is not None]
    cols = ", ".join(f"{c.name} {c.duckdb_type}" for c in entity.columns)
    con.execute(
        f"create or replace table w.raw.{entity.name} ({cols}, _file_id bigint, _row_number bigint)"
    )
    if selects:
        con.execute(f"insert into w.raw.{entity.name} {' union all '.join(selects)}")


def load(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    """Every entity of ``landing`` into ``w.raw.<entity>``."""
    for entity in ENTITIES.values():
        load_entity(con, landing, entity)

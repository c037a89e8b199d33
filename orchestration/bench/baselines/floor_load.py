"""The floor's loading step: the landing folder's files straight into in-memory DuckDB tables.

What a strong DuckDB user would write by hand instead of an ingestion pipeline: per entity,
one ``read_csv`` / ``read_parquet`` per delivered file (every value read as text, as ingestion
reads it), typed with ``try_cast`` in one projection, and a row that cannot be typed skipped
(missing key or required value, unparsable timestamp, date, boolean, integer or decimal,
value outside its enumeration, negative quantity or amount, id or text over its length).
Ingestion keeps those rows with their reasons in ``audit.rejected_rows``; the floor drops them.

The tables land in ``w.raw.<entity>`` (an attached in-memory catalog) with the lineage columns
the newest-version rule needs, ``_file_id`` (the file's position in the order ingestion sees
the files: lexical order of the path, ``orchestration.ingest.readers.discover``) and
``_row_number`` (the row's position in its file), so the hand-written steps of
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


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _typed(column: Column) -> tuple[str, list[str]]:
    """(typed expression, conditions a readable value meets) over the text column ``v``."""
    v = f'"{column.name}"'
    empty = f"({v} is null or {v} = '')"
    checks = []
    if column.type in ("id", "text", "enum"):
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


def _reader(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        options = "all_varchar = true, header = true, ignore_errors = true"
        return f"read_csv({_sql_text(str(path))}, {options})"
    if suffix == ".parquet":
        return f"read_parquet({_sql_text(str(path))})"
    return None


def _as_text(name: str, source_type: str) -> str:
    """A column as ingestion reads it: text; Parquet datetimes rendered in ISO 8601."""
    if source_type.startswith("TIMESTAMP"):
        value = f'"{name}"::timestamp' if "TIME ZONE" in source_type else f'"{name}"'
        return f"strftime({value}, '%Y-%m-%dT%H:%M:%S.%f') as \"{name}\""
    return f'cast("{name}" as varchar) as "{name}"'


def _file_select(con: duckdb.DuckDBPyConnection, entity: Entity, path: Path, file_id: int):
    """The typed, readable rows of one file, or None when the file is unusable as a whole."""
    reader = _reader(path)
    if reader is None:
        return None
    try:
        types = {r[0]: r[1] for r in con.execute(f"describe select * from {reader}").fetchall()}
    except duckdb.Error:
        return None
    if not set(entity.column_names) <= set(types):
        return None
    text = ", ".join(_as_text(c, types[c]) for c in entity.column_names)
    exprs, checks = [], []
    for column in entity.columns:
        expr, cond = _typed(column)
        exprs.append(f'{expr} as "{column.name}"')
        checks += cond
    return (
        f"select {', '.join(exprs)}, {file_id}::bigint as _file_id, _row_number\n"
        f"from (select {text}, row_number() over () as _row_number from {reader})\n"
        f"where {' and '.join(checks)}"
    )


def load(con: duckdb.DuckDBPyConnection, landing: Path) -> dict[str, int]:
    """Every entity of ``landing`` into ``w.raw.<entity>``; rows loaded per entity."""
    con.execute("set TimeZone = 'UTC'")
    con.execute("attach if not exists ':memory:' as w")
    con.execute("create schema if not exists w.raw")
    loaded = {}
    for entity in ENTITIES.values():
        selects = [
            s
            for file_id, delivery in enumerate(discover(Path(landing), entity.name), start=1)
            if (s := _file_select(con, entity, delivery.path, file_id)) is not None
        ]
        cols = ", ".join(f"{c.name} {c.duckdb_type}" for c in entity.columns)
        con.execute(
            f"create or replace table w.raw.{entity.name} "
            f"({cols}, _file_id bigint, _row_number bigint)"
        )
        if selects:
            con.execute(f"insert into w.raw.{entity.name} {' union all '.join(selects)}")
        loaded[entity.name] = con.execute(f"select count(*) from w.raw.{entity.name}").fetchone()[0]
    return loaded

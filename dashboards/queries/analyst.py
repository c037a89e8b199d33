"""The SQL page: one read-only analyst query, checked, then run confined.

Two layers. `check_analyst_sql` decides what may run: one SELECT over the `marts` and `audit`
schemas, no files, catalogs, settings or extensions. `sandbox` decides what it may cost: the
query runs in a worker process under hard operating-system limits (time, memory, CPU), its
result capped in rows and bytes with long cells cut, at most N at once (`sandbox.Limits`, from
`CUSTODIA_SQL_*`). Anything else that runs an analyst's text must go through
`run_analyst_query` / `download_analyst_query`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from dashboards.queries import sandbox
from dashboards.queries.connection import _first_line, _stamp, query
from orchestration.settings import warehouse_path

ANALYST_SCHEMAS = ("marts", "audit")
ANALYST_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})

_REFUSALS = {
    "INSERT": "writes data",
    "UPDATE": "writes data",
    "DELETE": "writes data",
    "MERGE_INTO": "writes data",
    "CREATE": "creates objects",
    "CREATE_FUNC": "creates objects",
    "DROP": "drops objects",
    "ALTER": "alters objects",
    "ATTACH": "attaches another database",
    "DETACH": "detaches a database",
    "COPY": "reads or writes files (COPY)",
    "COPY_DATABASE": "copies a database",
    "EXPORT": "writes files (EXPORT)",
    "LOAD": "installs or loads an extension (INSTALL/LOAD)",
    "EXTENSION": "installs or loads an extension",
    "SET": "changes settings (SET/RESET/USE)",
    "VARIABLE_SET": "changes settings (SET VARIABLE)",
    "PRAGMA": "runs a PRAGMA",
    "CALL": "calls a procedure or PRAGMA function",
    "TRANSACTION": "controls transactions",
    "VACUUM": "maintains the database",
    "ANALYZE": "maintains the database",
    "PREPARE": "prepares statements",
    "EXECUTE": "executes prepared statements",
    "UPDATE_EXTENSIONS": "updates extensions",
}


class RefusedQuery(Exception):
    """The analyst query is not allowed, or a limit stopped it; the message says which.

    `limit` is "check" for a refused statement, else the limit that stopped the query (time,
    memory, cpu, download, …; see `sandbox.QueryStopped`)."""

    def __init__(self, message: str, limit: str = "check") -> None:
        super().__init__(message)
        self.limit = limit


@dataclass
class AnalystResult:
    frame: pd.DataFrame  # the rows shown; duplicate column names made unique (a, a_1)
    row_count: int  # rows shown (at most the row limit)
    stopped_by: str | None  # "rows" or "bytes": the result was longer than shown
    cut_cells: int  # cells cut to the display width
    seconds: float
    columns: list[str]  # the query's own column names
    worker_peak_bytes: int  # the worker's peak resident memory

    @property
    def truncated(self) -> bool:
        return self.stopped_by is not None


def limits() -> sandbox.Limits:
    """The limits in force (`CUSTODIA_SQL_*`, read when asked)."""
    return sandbox.Limits.from_env()


def _walk(node: Any):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def check_analyst_sql(sql: str) -> str:
    """Return the single SELECT statement to run, or raise RefusedQuery saying why.

    Checks, in order: the text parses; it holds exactly one statement; that statement is a
    SELECT (also DESCRIBE/SHOW/SUMMARIZE); every table it names is in `marts` or `audit` (or is
    one of its own CTEs); it calls no table function beyond range/generate_series/unnest (so no
    read_csv, read_parquet, glob, …). The connection it runs on is read-only with external
    access disabled and its configuration locked, so the engine refuses anything this misses.
    """
    text = (sql or "").strip()
    if not text:
        raise RefusedQuery("Enter a query.")
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise RefusedQuery(f"The query does not parse: {_first_line(exc)}") from None
    if not statements:
        raise RefusedQuery("Enter a query.")
    if len(statements) > 1:
        raise RefusedQuery(
            f"One statement at a time: this text holds {len(statements)} statements."
        )
    statement = statements[0]
    kind = statement.type.name
    if kind != "SELECT":
        why = _REFUSALS.get(kind, f"is a {kind} statement")
        raise RefusedQuery(
            f"Refused: the SQL page is read-only and only runs SELECT queries; this statement "
            f"{why}."
        )
    body = statement.query.strip().rstrip(";")
    tree = _serialize(body)
    ctes = {
        str(entry.get("key", "")).lower()
        for node in _walk(tree)
        if isinstance(node.get("cte_map"), dict)
        for entry in node["cte_map"].get("map", [])
    }
    for node in _walk(tree):
        node_type = node.get("type")
        if node_type == "TABLE_FUNCTION":
            name = str((node.get("function") or {}).get("function_name", "")).lower()
            if name not in ANALYST_TABLE_FUNCTIONS:
                raise RefusedQuery(
                    f"Refused: table function `{name}` is not allowed here (no reading files "
                    "or catalogs from the SQL page); query the marts tables instead."
                )
        elif node_type == "SHOW_REF" and node.get("show_type") == "SHOW_SPECIAL":
            raise RefusedQuery(
                "Refused: SHOW TABLES lists every schema; use the schema browser below, "
                "or DESCRIBE a mart."
            )
        elif node_type == "BASE_TABLE":
            catalog = str(node.get("catalog_name") or "").lower()
            schema = str(node.get("schema_name") or "").lower()
            table = str(node.get("table_name") or "")
            if not schema and not catalog and table.lower() in ctes:
                continue
            name = ".".join(part for part in (catalog, schema, table.lower()) if part)
            # Unqualified names resolve in `marts` (the search path); a three-part name
            # (catalog.schema.table) could reach another database and is refused.
            in_schema = not catalog and (schema or "marts") in ANALYST_SCHEMAS
            if not in_schema or any(c in table for c in "/\\:."):
                raise RefusedQuery(
                    f"Refused: `{name}` is not a table of the schemas "
                    f"{', '.join(ANALYST_SCHEMAS)} (files and other schemas cannot be read)."
                )
    return body


def _serialize(sql: str) -> dict[str, Any]:
    con = duckdb.connect(config={"enable_external_access": False})
    try:
        raw = con.execute("select json_serialize_sql($sql)", {"sql": sql}).fetchone()[0]
    except duckdb.Error as exc:
        raise RefusedQuery(f"The query cannot be checked: {_first_line(exc)}") from None
    finally:
        con.close()
    tree = json.loads(raw)
    if tree.get("error"):
        raise RefusedQuery(
            f"The query cannot be checked: {tree.get('error_message', 'unsupported form')}"
        )
    return tree


def run_analyst_query(
    sql: str,
    *,
    limits: sandbox.Limits | None = None,
    on_wait: Callable[[int], None] | None = None,
) -> AnalystResult:
    """Check and run an analyst's query in a confined worker; never cached (the timing is part
    of the answer). `on_wait(position)` is called while it waits for a free slot."""
    preview = _confined(sandbox.run_preview, sql, limits, on_wait=on_wait)
    columns = preview.table.column_names
    frame = preview.table.rename_columns(_unique(columns)).to_pandas()
    return AnalystResult(
        frame=frame,
        row_count=preview.rows,
        stopped_by=preview.stopped_by,
        cut_cells=preview.cut_cells,
        seconds=preview.seconds,
        columns=columns,
        worker_peak_bytes=preview.worker_peak_bytes,
    )


def download_analyst_query(
    sql: str,
    fmt: str,
    *,
    limits: sandbox.Limits | None = None,
    on_wait: Callable[[int], None] | None = None,
) -> sandbox.Download:
    """The full result of an analyst's query as a CSV or Parquet file the worker wrote under
    the app's static folder (served from there, never held in the dashboard's memory)."""
    return _confined(sandbox.run_download, sql, limits, fmt, on_wait=on_wait)


def _confined(run: Callable[..., Any], sql: str, limits: sandbox.Limits | None, *args, **kw):
    """Check `sql`, then `run` it in the sandbox on the current warehouse under `limits` (the
    settings in force by default); a limit that stops it becomes a RefusedQuery naming it."""
    body = check_analyst_sql(sql)
    path = warehouse_path()
    _stamp(path)  # a missing warehouse says so, as on every page
    try:
        return run(body, path, limits or sandbox.Limits.from_env(), *args, **kw)
    except sandbox.QueryStopped as exc:
        raise RefusedQuery(str(exc), exc.limit) from None


def _unique(columns: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in columns:
        n = seen.get(name, 0)
        seen[name] = n + 1
        out.append(name if n == 0 else f"{name}_{n}")
    return out


def schema_catalog() -> pd.DataFrame:
    """Tables (and views) of the marts and audit schemas, their columns and descriptions."""
    return query(
        """
        select
            c.schema_name,
            c.table_name,
            coalesce(t.comment, v.comment) as table_description,
            c.column_index,
            c.column_name,
            c.data_type,
            c.comment as column_description
        from duckdb_columns() as c
        left join duckdb_tables() as t
            on t.database_name = c.database_name and t.schema_name = c.schema_name
           and t.table_name = c.table_name
        left join duckdb_views() as v
            on v.database_name = c.database_name and v.schema_name = c.schema_name
           and v.view_name = c.table_name
        where c.database_name = current_database()
          and c.schema_name in ('marts', 'audit')
        order by c.schema_name, c.table_name, c.column_index
        """
    )

"""The SQL page: one read-only analyst query, checked, confined and time-limited.

The analyst SQL console (`run_analyst_query`) is confined: see `check_analyst_sql`.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from dashboards.queries.connection import _first_line, _session, query
from orchestration.settings import warehouse_path

ANALYST_SCHEMAS = ("marts", "audit")
ANALYST_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
ANALYST_TIME_LIMIT_SECONDS = 10.0
ANALYST_ROW_CAP = 5_000

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
    """The analyst query is not allowed; the message says why."""


@dataclass
class AnalystResult:
    frame: pd.DataFrame
    row_count: int  # rows shown (at most the cap)
    truncated: bool  # the result had more rows than the cap
    seconds: float
    columns: list[str] = field(default_factory=list)


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
    time_limit: float = ANALYST_TIME_LIMIT_SECONDS,
    row_cap: int = ANALYST_ROW_CAP,
) -> AnalystResult:
    """Check and run an analyst's query; never cached (the timing is part of the answer)."""
    body = check_analyst_sql(sql)
    with _session(warehouse_path()) as (con, _):
        timer = threading.Timer(time_limit, con.interrupt)
        started = time.perf_counter()
        timer.start()
        try:
            cursor = con.execute(body)
            columns = [d[0] for d in cursor.description or []]
            rows = cursor.fetchmany(row_cap + 1)
        except duckdb.InterruptException:
            raise RefusedQuery(
                f"Stopped: the query ran longer than the {time_limit:g} s limit."
            ) from None
        except duckdb.PermissionException as exc:
            raise RefusedQuery(f"Refused by the engine: {_first_line(exc)}") from None
        except duckdb.Error as exc:
            raise RefusedQuery(f"Query failed: {_first_line(exc)}") from None
        finally:
            timer.cancel()
    seconds = time.perf_counter() - started
    truncated = len(rows) > row_cap
    rows = rows[:row_cap]
    frame = pd.DataFrame.from_records(rows, columns=_unique(columns))
    return AnalystResult(frame, len(rows), truncated, seconds, columns)


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

"""Helpers for the dbt tests: raw tables from rows, running dbt, reading marts.

Used by the other ``tests/test_dbt_*.py`` modules; it holds no tests itself (its name keeps
the dbt test files together). Rows use the oracle's input format (entity -> list of dicts with
contract columns, optionally ``_file_id``), so hand-written scenarios, random worlds and the
generator's sample all load the same way.
"""

from __future__ import annotations

import collections
import os
import random
import subprocess
import sys
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb

from orchestration import settings
from orchestration.contract import ENTITIES, LINEAGE_COLUMNS
from orchestration.ingest.audit import CLOSED_MONTHS_DDL

DBT_DIR = settings.DBT_PROJECT_DIR
DBT = Path(sys.executable).parent / "dbt"


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    for entity in ENTITIES.values():
        con.execute(entity.raw_ddl())
    # dbt reads audit.closed_months as a source; on a real warehouse ingestion creates it empty
    con.execute("create schema if not exists audit")
    con.execute(CLOSED_MONTHS_DDL)


def load_rows(warehouse: Path, data: dict[str, list[dict]]) -> None:
    """Create the raw tables (contract DDL) and insert the rows with lineage columns."""
    con = duckdb.connect(str(warehouse))
    try:
        create_raw_tables(con)
        loaded_at = datetime(2030, 1, 1)
        for name, entity in ENTITIES.items():
            rows = data.get(name, [])
            if not rows:
                continue
            cols = list(entity.column_names) + list(LINEAGE_COLUMNS)
            values = [
                [row.get(c) for c in entity.column_names]
                + [row.get("_file_id", 1), f"{name}/{name}_0001.csv", i + 1, loaded_at]
                for i, row in enumerate(rows)
            ]
            placeholders = ", ".join("?" for _ in cols)
            con.executemany(
                f"insert into raw.{name} ({', '.join(cols)}) values ({placeholders})", values
            )
    finally:
        con.close()


def run_dbt(args: list[str], warehouse: Path, work: Path) -> subprocess.CompletedProcess:
    """Run the dbt CLI of this venv on the project against ``warehouse``."""
    env = {
        **os.environ,
        settings.WAREHOUSE_ENV: str(warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    cmd = [
        str(DBT),
        *args,
        "--project-dir",
        str(DBT_DIR),
        "--profiles-dir",
        str(DBT_DIR),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)


def close_dashboard_connection() -> None:
    """Close the dashboard's kept warehouse connection, if this process has one: DuckDB refuses
    a connection to the same file with other settings beside it."""
    connection = sys.modules.get("dashboards.queries.connection")  # imported only if in use
    if connection is not None:
        connection.close_kept()


def fetch(warehouse: Path, sql: str) -> list[dict]:
    close_dashboard_connection()
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


# --------------------------------------------------------------------------- random worlds


def random_worlds(n: int, seed: int = 7):
    """``n`` independent random worlds (``oracle.builder.random_world``) in one ``World``."""
    from oracle.builder import World, random_world

    rng = random.Random(seed)
    world = World()
    for k in range(n):
        random_world(world, rng, f"W{k:03d}_")
    return world


# --------------------------------------------------------------------------- marts vs oracle

FIGURES_SQL = """
select
    (select count(*) from marts.fct_facility_stock where quantity_on_hand > 0)
        as facility_stock_on_hand_items,
    (select coalesce(sum(quantity_on_hand), 0) from marts.fct_facility_stock)
        as facility_stock_units_on_hand,
    (select coalesce(sum(value_on_hand), 0) from marts.fct_facility_stock)
        as facility_stock_value_on_hand,
    (select coalesce(sum(amount), 0) from marts.fct_sales) as sales_ledger_total,
    (select count(*) from marts.fct_sales) as sales_ledger_lines,
    (select coalesce(sum(commission_amount), 0) from marts.fct_sales) as commission_total,
    (select coalesce(sum(double_billed_amount), 0) from marts.rpt_reconciliation_monthly)
        as double_billed_amount,
    (select count(*) from marts.fct_inventory_status where is_active) as active_items,
    (select count(*) from marts.fct_exceptions) as exceptions_total
"""


def _norm(value):
    # money is stored to the cent, rounded half away from zero (commission_amount per line)
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return value


def _compare(name, mine, theirs, key, columns) -> list[str]:
    m = {tuple(r[k] for k in key): r for r in mine}
    t = {tuple(r[k] for k in key): r for r in theirs}
    problems = []
    for k in sorted(set(m) ^ set(t), key=str):
        problems.append(f"{name} {k}: only in {'dbt' if k in m else 'oracle'}")
    for k in sorted(set(m) & set(t), key=str):
        for c in columns:
            if _norm(m[k].get(c)) != _norm(t[k].get(c)):
                problems.append(f"{name} {k} {c}: dbt={m[k].get(c)!r} oracle={t[k].get(c)!r}")
    return problems


def assert_marts_agree(warehouse: Path, result) -> None:
    """Every mart of ``warehouse`` equals the oracle's ``result`` row by row (or raise)."""
    import oracle

    keys = oracle.KEY_COLUMNS
    mine = collections.Counter(
        tuple(r[c] for c in keys) for r in fetch(warehouse, "select * from marts.fct_exceptions")
    )
    theirs = collections.Counter(tuple(r[c] for c in keys) for r in result.exceptions)
    problems = [f"exception only in dbt: {k}" for k in mine - theirs]
    problems += [f"exception only in oracle: {k}" for k in theirs - mine]
    q = lambda sql: fetch(warehouse, sql)  # noqa: E731
    problems += _compare(
        "fct_event_lines",
        q("select * from marts.fct_event_lines"),
        result.event_lines,
        ["event_id", "line_no"],
        ["usage_class", "access_path", "custodian_at_use", "expected_amount", "line_at"],
    )
    problems += _compare(
        "fct_sales",
        q("select * from marts.fct_sales"),
        result.sales,
        ["event_id", "line_no"],
        ["amount", "commission_amount", "sold_at", "quantity", "facility_id"],
    )
    problems += _compare(
        "fct_facility_stock",
        q("select * from marts.fct_facility_stock"),
        result.facility_stock,
        ["item_id"],
        [
            "facility_id",
            "seller_id",
            "stocking_order_id",
            "stocking_order_line_no",
            "sold_at",
            "quantity_sold",
            "quantity_used",
            "quantity_returned",
            "quantity_adjusted",
            "quantity_on_hand",
            "value_on_hand",
            "status",
        ],
    )
    problems += _compare(
        "fct_inventory_status",
        q("select * from marts.fct_inventory_status"),
        list(result.inventory_status.values()),
        ["item_id"],
        [
            "custodian_id",
            "is_active",
            "is_facility_stock",
            "facility_id",
            "seller_id",
            "quantity_remaining",
            "deactivated_at",
            "deactivation_reason",
        ],
    )
    problems += _compare(
        "fct_facility_stock_access",
        q("select * from marts.fct_facility_stock_access"),
        result.facility_stock_access,
        ["item_id", "user_id"],
        ["access_path", "facility_id"],
    )
    problems += _compare(
        "fct_custody_intervals",
        q("select * from marts.fct_custody_intervals"),
        result.custody_intervals,
        ["item_id", "valid_from", "transfer_id"],
        ["custodian_id", "valid_to"],
    )
    (figures,) = q(FIGURES_SQL)
    expected_figures = dict(result.figures)
    # the mart rounds each line's commission to the cent; the oracle keeps exact products
    expected_figures["commission_total"] = sum(
        (_norm(s["commission_amount"]) for s in result.sales), Decimal(0)
    )
    for name, value in expected_figures.items():
        if _norm(figures[name]) != _norm(value):
            problems.append(f"figure {name}: dbt={figures[name]} oracle={value}")
    assert problems == [], "\n".join(problems[:40])


__all__ = [
    "FIGURES_SQL",
    "assert_marts_agree",
    "create_raw_tables",
    "fetch",
    "load_rows",
    "random_worlds",
    "run_dbt",
]

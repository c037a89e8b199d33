"""The warehouse tables ingestion writes: ``raw.<entity>`` (from the contract) and ``audit.*``.

Columns follow ``docs/architecture.md`` (AUDIT TABLES). ``extra_columns`` and ``reason_codes``
are ``;``-separated text, sorted.
"""

from __future__ import annotations

import duckdb

from orchestration.contract import ENTITIES

INGESTED_FILES_DDL = """
create table if not exists audit.ingested_files (
    file_id bigint primary key,
    entity varchar not null,
    source_file varchar not null,
    sha256 varchar not null,
    file_format varchar,
    status varchar not null,
    rows_read bigint,
    rows_loaded bigint,
    rows_rejected bigint,
    extra_columns varchar,
    error varchar,
    ingested_at timestamp not null,
    file_size bigint,
    file_mtime_ns bigint
)
"""

REJECTED_ROWS_DDL = """
create table if not exists audit.rejected_rows (
    entity varchar not null,
    source_file varchar not null,
    row_number bigint not null,
    reason_codes varchar not null,
    reasons varchar not null,
    record varchar,
    _file_id bigint not null,
    rejected_at timestamp not null
)
"""

# The figures of marts.rpt_reconciliation_monthly a month-end close freezes, in its column
# order (tests/test_close.py keeps this list equal to the mart's contract and to the dbt macro
# ``closed_figures``, which rpt_restatements compares). Units are whole numbers; the rest money.
CLOSED_FIGURES = (
    "stocking_order_revenue",
    "case_sale_revenue",
    "expected_revenue",
    "billed_revenue",
    "double_billed_amount",
    "unbilled_amount",
    "non_sale_units",
    "non_sale_value",
    "returned_value",
)
_FIGURE_TYPES = {"non_sale_units": "bigint"}

# Written only by ``custodia close`` (orchestration/close.py), one row per month x facility,
# never updated or deleted; created empty here so dbt can read it as a source on a fresh
# warehouse. The build copies the previous warehouse, so every row survives every build.
CLOSED_MONTHS_DDL = f"""
create table if not exists audit.closed_months (
    month date not null,
    facility_id varchar not null,
    {", ".join(f"{c} {_FIGURE_TYPES.get(c, 'decimal(18,2)')} not null" for c in CLOSED_FIGURES)},
    closed_at timestamp not null,
    closed_by varchar not null,
    delivery_watermark bigint not null,
    data_as_of timestamp,
    primary key (month, facility_id)
)
"""

STATUSES = ("LOADED", "LOADED_WITH_REJECTS", "FAILED")


def ensure_warehouse(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ``raw`` and ``audit`` schemas and tables if missing (idempotent; an existing
    table, ``audit.closed_months`` included, is never touched)."""
    con.execute("create schema if not exists raw")
    con.execute("create schema if not exists audit")
    for entity in ENTITIES.values():
        con.execute(entity.raw_ddl("raw"))
    con.execute(INGESTED_FILES_DDL)
    # the file's stamp (size, modification time) at ingestion: added to warehouses built
    # before it was recorded; their rows keep null and are recognised by hash alone
    con.execute("alter table audit.ingested_files add column if not exists file_size bigint")
    con.execute("alter table audit.ingested_files add column if not exists file_mtime_ns bigint")
    con.execute(REJECTED_ROWS_DDL)
    con.execute(CLOSED_MONTHS_DDL)


def already_ingested(con: duckdb.DuckDBPyConnection, source_file: str, sha256: str) -> bool:
    """True when these exact bytes (path and sha256) were recorded before."""
    # fetchall, not fetchone: DuckDB 2 keeps a half-read result open and blocks the connection
    rows = con.execute(
        "select 1 from audit.ingested_files where source_file = ? and sha256 = ? limit 1",
        [source_file, sha256],
    ).fetchall()
    return bool(rows)


def sha_of_unchanged(
    con: duckdb.DuckDBPyConnection, source_file: str, size: int, mtime_ns: int
) -> str | None:
    """The sha256 recorded for ``source_file`` when it was ingested with this exact stamp
    (size and modification time in nanoseconds), else None: the file must then be hashed."""
    rows = con.execute(
        "select sha256 from audit.ingested_files"
        " where source_file = ? and file_size = ? and file_mtime_ns = ? limit 1",
        [source_file, size, mtime_ns],
    ).fetchall()
    return rows[0][0] if rows else None


def next_file_id(con: duckdb.DuckDBPyConnection) -> int:
    """The next delivery id: max + 1, read inside the file's transaction.

    Not a sequence: a rolled-back transaction must not leave a gap, so a rerun after a crash
    numbers the files exactly as one clean run would.
    """
    sql = "select coalesce(max(file_id), 0) + 1 from audit.ingested_files"
    return con.execute(sql).fetchall()[0][0]


def conservation_violations(con: duckdb.DuckDBPyConnection, entity: str) -> list[dict]:
    """Files of ``entity`` whose rows do not add up.

    For every non-FAILED delivery: rows_read = rows_loaded + rows_rejected, and the rows really
    present in ``raw.<entity>`` / ``audit.rejected_rows`` match the recorded counts. A FAILED
    delivery must have loaded and rejected nothing.
    """
    ENTITIES[entity]  # noqa: B018 - unknown entity names fail here, never reach the SQL
    rows = con.execute(
        f"""
        with loaded as (
            select _file_id as file_id, count(*) as n from raw.{entity} group by 1
        ),
        rejected as (
            select _file_id as file_id, count(*) as n from audit.rejected_rows
            where entity = ? group by 1
        )
        select f.file_id, f.source_file, f.status, f.rows_read, f.rows_loaded, f.rows_rejected,
               coalesce(l.n, 0) as rows_in_raw, coalesce(r.n, 0) as rows_in_rejects
        from audit.ingested_files as f
        left join loaded as l using (file_id)
        left join rejected as r using (file_id)
        where f.entity = ?
          and (
            (f.status = 'FAILED' and (coalesce(l.n, 0) + coalesce(r.n, 0)) > 0)
            or (f.status <> 'FAILED' and (
                f.rows_read is distinct from f.rows_loaded + f.rows_rejected
                or f.rows_loaded <> coalesce(l.n, 0)
                or f.rows_rejected <> coalesce(r.n, 0)
            ))
          )
        order by f.file_id
        """,
        [entity, entity],
    ).fetchall()
    cols = [
        "file_id",
        "source_file",
        "status",
        "rows_read",
        "rows_loaded",
        "rows_rejected",
        "rows_in_raw",
        "rows_in_rejects",
    ]
    return [dict(zip(cols, r, strict=True)) for r in rows]

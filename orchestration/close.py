"""``custodia close --month YYYY-MM``: freeze a month's reconciliation into ``audit.closed_months``.

Finance closes a month once it is over: the close copies every row of
``marts.rpt_reconciliation_monthly`` for that month (month x facility, every figure) into the
append-only ``audit.closed_months``, with who closed it, when, and which build the figures come
from: the delivery watermark (the highest ``audit.ingested_files.file_id`` at close; a build is
a function of its deliveries, so this names it exactly) and the data's reference instant. Every
later build compares the month with what the marts say then (``marts.rpt_restatements``).

The close writes the way ``custodia build`` publishes (orchestration/build.py): under the
warehouse's writer lock (a running build or close refuses it, no race), on a copy of the
warehouse, replaced atomically with ``os.replace``; a reader never sees a lock or a half-written
file. Nothing else ever writes the table: ingestion only creates it empty, dbt reads it as a
source, and a build carries the previous warehouse over whole.

Refused, with one clear line and nothing changed: a malformed month, a warehouse without marts,
a month without reconciliation rows, a month not over at the data's newest instant
(docs/rules.md, "Month-end close"), and a month already closed (its own exit code, 3, so a
script such as ``make run`` can tell "already done" from a failure).
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from orchestration.build import BuildError, _fold_wal, _remove, writer_lock
from orchestration.ingest.audit import CLOSED_FIGURES, CLOSED_MONTHS_DDL

MONTH_PATTERN = re.compile(r"(\d{4})-(\d{2})")
RECONCILIATION = "marts.rpt_reconciliation_monthly"
EXIT_REFUSED = 2
EXIT_ALREADY_CLOSED = 3


class CloseRefused(BuildError):
    """A close that was refused; nothing was written."""

    exit_code = EXIT_REFUSED


class AlreadyClosed(CloseRefused):
    """The month is closed already: a closed month is never overwritten."""

    exit_code = EXIT_ALREADY_CLOSED


@dataclass(frozen=True)
class CloseReport:
    month: date
    cells: int
    closed_by: str
    closed_at: datetime
    delivery_watermark: int
    data_as_of: datetime | None


def parse_month(text: str) -> date:
    """``YYYY-MM`` -> the first day of that month; anything else is refused."""
    match = MONTH_PATTERN.fullmatch(text.strip()) if isinstance(text, str) else None
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
        raise CloseRefused(f"malformed month {text!r}: expected YYYY-MM, for example 2024-07")
    return date(int(match.group(1)), int(match.group(2)), 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def default_closer() -> str:
    """Who closes when ``--by`` is not given: the operating-system user."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in this environment
        raise CloseRefused("cannot tell who is closing: pass --by NAME") from None


def _label(month: date) -> str:
    return f"{month:%Y-%m}"


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables"
    ).fetchall()
    return {r[0] for r in rows}


def _check(con: duckdb.DuckDBPyConnection, month: date, warehouse: Path) -> datetime | None:
    """Refuse a close that must not happen; return the data's reference instant."""
    tables = _tables(con)
    if RECONCILIATION not in tables:
        raise CloseRefused(f"{warehouse} has no marts yet; run `custodia build` first")
    if "audit.closed_months" in tables:
        done = con.execute(
            "select closed_by, closed_at, delivery_watermark from audit.closed_months "
            "where month = ? limit 1",
            [month],
        ).fetchall()
        if done:
            by, at, mark = done[0]
            raise AlreadyClosed(
                f"{_label(month)} is already closed (by {by} at {at:%Y-%m-%d %H:%M:%S} UTC, "
                f"deliveries through file {mark}); a closed month is never overwritten: "
                "later changes show in marts.rpt_restatements"
            )
    cells = con.execute(f"select count(*) from {RECONCILIATION} where month = ?", [month])
    if not cells.fetchall()[0][0]:
        span = con.execute(f"select min(month), max(month) from {RECONCILIATION}").fetchall()[0]
        have = (
            f"the data has months {_label(span[0])} to {_label(span[1])}"
            if span[0]
            else "the warehouse has no reconciliation rows at all"
        )
        raise CloseRefused(f"no reconciliation data for {_label(month)}: {have}")
    as_of = None
    if "intermediate.int_reference_instant" in tables:
        as_of = con.execute("select as_of from intermediate.int_reference_instant").fetchall()
        as_of = as_of[0][0] if as_of else None
    end = datetime.combine(next_month(month), datetime.min.time())
    if as_of is not None and as_of < end:
        raise CloseRefused(
            f"{_label(month)} is not over in the data: its newest instant is "
            f"{as_of:%Y-%m-%d %H:%M:%S}, before {end:%Y-%m-%d}; close a month once deliveries "
            "reach the next one"
        )
    return as_of


def _freeze(
    con: duckdb.DuckDBPyConnection,
    month: date,
    closed_by: str,
    closed_at: datetime,
    as_of: datetime | None,
) -> tuple[int, int]:
    """Append the month's rows in one transaction; return (cells, delivery watermark)."""
    figures = ", ".join(CLOSED_FIGURES)
    con.execute("begin transaction")
    try:
        con.execute("create schema if not exists audit")
        con.execute(CLOSED_MONTHS_DDL)
        mark = con.execute("select coalesce(max(file_id), 0) from audit.ingested_files")
        mark = mark.fetchall()[0][0]
        con.execute(
            f"""
            insert into audit.closed_months
                (month, facility_id, {figures}, closed_at, closed_by, delivery_watermark,
                 data_as_of)
            select month, facility_id, {figures}, ?, ?, ?, ?
            from {RECONCILIATION}
            where month = ?
            order by facility_id
            """,
            [closed_at, closed_by, mark, as_of, month],
        )
        cells = con.execute(
            "select count(*) from audit.closed_months where month = ?", [month]
        ).fetchall()[0][0]
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return cells, mark


def run_close(
    warehouse: Path,
    month_text: str,
    *,
    closed_by: str | None = None,
    echo: Callable[[str], None] = print,
) -> CloseReport:
    """Close ``month_text`` (YYYY-MM) in ``warehouse``; raise CloseRefused, writing nothing,
    when it must not be closed."""
    month = parse_month(month_text)
    by = (closed_by if closed_by is not None else default_closer()).strip()
    if not by:
        raise CloseRefused("--by must name who is closing")
    warehouse = Path(warehouse)
    if not warehouse.is_file():
        raise CloseRefused(f"no warehouse at {warehouse}; run `custodia build` first")
    with writer_lock(warehouse):
        _fold_wal(warehouse)
        try:
            con = duckdb.connect(str(warehouse), read_only=True)
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CloseRefused(f"cannot read {warehouse}: {first}") from None
        try:
            _check(con, month, warehouse)
        finally:
            con.close()
        work = warehouse.with_name(warehouse.name + ".closing")
        _remove(work)
        try:
            shutil.copy2(warehouse, work)
            con = duckdb.connect(str(work))
            try:
                as_of = _check(con, month, warehouse)  # the copy is what gets written
                closed_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
                cells, mark = _freeze(con, month, by, closed_at, as_of)
                con.execute("checkpoint")
            finally:
                con.close()
            os.replace(work, warehouse)
        finally:
            _remove(work)
    report = CloseReport(month, cells, by, closed_at, mark, as_of)
    echo(
        f"custodia close: closed {_label(month)} in {warehouse}: {cells} facility row(s) frozen "
        f"in audit.closed_months by {by} at {closed_at:%Y-%m-%d %H:%M:%S} UTC, deliveries "
        f"through file {mark}; later changes to it show in marts.rpt_restatements after the "
        "next build"
    )
    return report

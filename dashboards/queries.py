"""Every query the dashboard runs, in one place.

The dashboard reads the published marts (schema ``marts``) and, for the data-quality page and
the build summary, the ingestion audit (schema ``audit``). Nothing else: no raw, staging or
intermediate tables.

Reading while a build runs: each query opens its own short-lived, read-only connection to the
file named by ``$CUSTODIA_WAREHOUSE`` (read when the query runs). The build publishes a new
warehouse by replacing the file atomically (``os.replace``), so a fresh connection sees either
the old or the new warehouse, never half of one. If the file is briefly locked by a writer, the
query retries for a few seconds, then reports the warehouse as busy.

Results are cached per query and per version of the file (path, inode, size, mtime), so a
rebuilt warehouse is picked up on the next rerun.

The analyst SQL console (`run_analyst_query`) is confined: see `check_analyst_sql`.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

from orchestration.settings import warehouse_path

BUILD_HINT = "Build it with `make run` or `custodia build`."

# Settings of every dashboard connection. External access off: no file, URL or extension can be
# reached from SQL; the configuration is locked so no statement can turn it back on. They are
# given when the connection opens, and are the same for every connection: DuckDB shares one
# database instance between the connections of a process, so overlapping queries (two users,
# or a long SQL-console query) must not disagree on, or try to change, global settings.
# `search_path` is per connection and stays settable under the lock.
_CONNECTION_CONFIG = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "threads": 2,
    "memory_limit": "1GB",
    "lock_configuration": True,
}
_OPEN_ATTEMPTS = 6
_OPEN_BACKOFF_SECONDS = 0.15  # doubles each attempt: about 4.5 s in all


# --------------------------------------------------------------------------------------------
# Errors a page shows as a message rather than a traceback


class WarehouseUnavailable(Exception):
    """The warehouse cannot answer; the message says why and what to do."""


class WarehouseMissing(WarehouseUnavailable):
    pass


class WarehouseBusy(WarehouseUnavailable):
    pass


class WarehouseIncomplete(WarehouseUnavailable):
    pass


# --------------------------------------------------------------------------------------------
# Connections


def _stamp(path: Path) -> tuple[int, int, int]:
    """A version of the warehouse file: changes whenever the build replaces it."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise WarehouseMissing(
            f"No warehouse at `{path}`. {BUILD_HINT} "
            "(The dashboard reads the file named by `CUSTODIA_WAREHOUSE`.)"
        ) from None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def connect(path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only, confined connection; retried briefly while a writer holds the file."""
    path = path or warehouse_path()
    _stamp(path)
    delay = _OPEN_BACKOFF_SECONDS
    for attempt in range(_OPEN_ATTEMPTS):
        try:
            con = duckdb.connect(str(path), read_only=True, config=dict(_CONNECTION_CONFIG))
            break
        except duckdb.IOException as exc:
            if not path.exists():
                raise WarehouseMissing(f"No warehouse at `{path}`. {BUILD_HINT}") from None
            if "lock" not in str(exc).lower():
                raise WarehouseUnavailable(
                    f"`{path}` is not a readable DuckDB warehouse ({_first_line(exc)}). "
                    f"{BUILD_HINT}"
                ) from exc
            if attempt == _OPEN_ATTEMPTS - 1:
                raise WarehouseBusy(
                    "The warehouse is being written by a build right now "
                    f"({exc.__class__.__name__}). Refresh the page in a moment."
                ) from exc
            time.sleep(delay)
            delay *= 2
        except duckdb.Error as exc:
            raise WarehouseUnavailable(
                f"`{path}` is not a readable DuckDB warehouse ({_first_line(exc)}). {BUILD_HINT}"
            ) from exc
    with contextlib.suppress(duckdb.CatalogException):  # no marts yet: require_warehouse says so
        con.execute("set search_path = 'marts'")
    return con


# DuckDB shares one database instance between the connections a process opens on one path,
# and keeps it while any of them is open. So while a connection opened before a rebuild is still
# running (a long SQL-console query, say), a new connection to the same path gets the *old*
# warehouse. It is a consistent snapshot, but it must not be cached under the new file's stamp.
# Connections are therefore counted by the file version they opened.
_live_lock = threading.Lock()
_live_versions: dict[tuple[int, int, int], int] = {}


@contextlib.contextmanager
def _session(path: Path) -> Iterator[tuple[duckdb.DuckDBPyConnection, tuple[int, int, int]]]:
    """A connection plus the file version it was opened on, counted while open."""
    stamp = _stamp(path)
    con = connect(path)
    with _live_lock:
        _live_versions[stamp] = _live_versions.get(stamp, 0) + 1
    try:
        yield con, stamp
    finally:
        con.close()
        with _live_lock:
            _live_versions[stamp] -= 1
            if not _live_versions[stamp]:
                del _live_versions[stamp]


def _older_version_open(stamp: tuple[int, int, int]) -> bool:
    with _live_lock:
        return any(version != stamp for version in _live_versions)


def _text_dtype() -> pd.StringDtype | None:
    """The dtype DuckDB gives text columns, if it is pandas' Arrow-backed `str` (pandas 3)."""
    global _TEXT_DTYPE
    if _TEXT_DTYPE is _UNKNOWN:
        con = duckdb.connect()
        try:
            dtype = con.execute("select 'x' as text").df()["text"].dtype
        finally:
            con.close()
        arrow_backed = isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"
        _TEXT_DTYPE = dtype if arrow_backed else None
    return _TEXT_DTYPE


_UNKNOWN = object()
_TEXT_DTYPE: Any = _UNKNOWN


# Below this many text cells DuckDB's own conversion is as fast as the detour through Arrow.
_ARROW_TEXT_MIN_CELLS = 10_000


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None) -> pd.DataFrame:
    """The result of `sql` as a DataFrame, exactly as DuckDB's `.df()` gives it, only faster.

    DuckDB's `.df()` builds one Python string per text cell, which pandas 3 then re-encodes
    into its Arrow-backed `str` dtype: most of the time of a large result (the ~100k rows of
    the facility-stock levels, say). The result is therefore fetched as Arrow, and the text
    columns of a large one go straight into that same dtype; every other column (and every
    column of a small result) keeps DuckDB's own conversion, run on the Arrow table, so dtypes
    and values are those of `.df()` (`test_frames_are_those_of_duckdb_df`)."""
    relation = con.sql(sql, params=params)
    names = relation.columns
    types = dict(zip(names, map(str, relation.types), strict=True))
    text = [n for n in names if types[n] == "VARCHAR"]
    dtype = _text_dtype()
    if dtype is None or not text or len(types) != len(names):
        return relation.df()
    table = relation.to_arrow_table()
    columns = {}
    if table.num_rows * len(text) >= _ARROW_TEXT_MIN_CELLS:
        for name in text:
            column = table.column(name)
            if column.null_count < len(column):
                columns[name] = column.to_pandas(types_mapper=lambda _: dtype)
            else:  # no text at all: pandas keeps DuckDB's object column of None
                columns[name] = pd.Series([None] * len(column), dtype=object, name=name)
    others = [n for n in names if n not in columns]
    if not others:
        return pd.DataFrame(columns)[names]
    rest = con.from_arrow(table.select(others))
    if list(map(str, rest.types)) != [types[n] for n in others]:
        return relation.df()  # a type Arrow does not carry back as it was (UUID, say)
    if not columns:
        return rest.df()
    return pd.concat([pd.DataFrame(columns), rest.df()], axis=1)[names]


def _run(path: Path, sql: str, params: Mapping[str, Any] | None) -> pd.DataFrame:
    with _session(path) as (con, _):
        try:
            return _frame(con, sql, dict(params) if params else None)
        except duckdb.CatalogException as exc:
            raise WarehouseIncomplete(
                f"The warehouse has no such mart yet ({_first_line(exc)}). Rebuild it: {BUILD_HINT}"
            ) from exc
        except duckdb.BinderException as exc:
            raise WarehouseIncomplete(
                "The marts lack a column this page reads "
                f"({_first_line(exc)}); see docs/dashboard.md for the columns the dashboard "
                f"expects. Rebuild with the current models: {BUILD_HINT}"
            ) from exc


@st.cache_data(ttl=600, max_entries=512, show_spinner=False)
def _cached_query(
    path: str, stamp: tuple[int, int, int], sql: str, params: Mapping[str, Any] | None
) -> pd.DataFrame:
    del stamp  # part of the cache key only
    return _run(Path(path), sql, params)


def query(
    sql: str, params: Mapping[str, Any] | None = None, *, cached: bool = True
) -> pd.DataFrame:
    """Run one read-only query against the current warehouse file (cached per file version).

    `cached=False` for large one-off results (a full CSV export): run, never kept in memory."""
    path = warehouse_path()
    stamp = _stamp(path)
    params = dict(params) if params else None
    if not cached or _older_version_open(stamp):
        return _run(path, sql, params)  # may still see the previous build: do not cache it
    return _cached_query(str(path), stamp, sql, params)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__


def _scalar_row(sql: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    df = query(sql, params)
    return {} if df.empty else df.iloc[0].to_dict()


# --------------------------------------------------------------------------------------------
# Warehouse status (every page starts here)

REQUIRED_MARTS = (
    "dim_users",
    "dim_facilities",
    "dim_products",
    "fct_custody_intervals",
    "fct_inventory_status",
    "fct_facility_stock",
    "fct_facility_stock_access",
    "fct_event_lines",
    "fct_sales",
    "fct_exceptions",
    "rpt_stock_levels",
    "rpt_reconciliation_monthly",
)


def require_warehouse() -> None:
    """Raise WarehouseUnavailable unless the file exists and holds the marts."""
    marts = query("select table_name from information_schema.tables where table_schema = 'marts'")
    present = set(marts["table_name"])
    if not present:
        raise WarehouseIncomplete(
            f"The warehouse at `{warehouse_path()}` has no marts yet. {BUILD_HINT}"
        )
    missing = [name for name in REQUIRED_MARTS if name not in present]
    if missing:
        raise WarehouseIncomplete(
            f"The warehouse lacks the marts {', '.join(missing)}. {BUILD_HINT}"
        )


def build_info() -> dict[str, Any]:
    """When the warehouse file was published and which deliveries it holds."""
    path = warehouse_path()
    _, size, mtime_ns = _stamp(path)
    info: dict[str, Any] = {
        "path": str(path),
        "size_bytes": size,
        "published_at": pd.Timestamp(mtime_ns, unit="ns", tz="UTC"),
    }
    info.update(
        _scalar_row(
            """
            select
                count(*) as files,
                count(distinct entity) as entities,
                coalesce(sum(rows_loaded), 0)::bigint as rows_loaded,
                coalesce(sum(rows_rejected), 0)::bigint as rows_rejected,
                count(*) filter (where status = 'FAILED') as files_failed,
                max(ingested_at) as last_ingested_at
            from audit.ingested_files
            """
        )
    )
    return info


# --------------------------------------------------------------------------------------------
# Shared lookups


def facilities() -> pd.DataFrame:
    """Facilities for the filters: dim_facilities, plus any facility id the facts name that the
    dimension lacks (an unknown reference must still be selectable)."""
    return query(
        """
        with named_in_facts as (
            select facility_id from marts.fct_facility_stock
            union select facility_id from marts.fct_event_lines
            union select facility_id from marts.rpt_reconciliation_monthly
            union select facility_id from marts.fct_exceptions
        )
        select f.facility_id, d.facility_name, d.state, d.contract_complete
        from (select facility_id from marts.dim_facilities union
              select facility_id from named_in_facts) as f
        left join marts.dim_facilities as d using (facility_id)
        where f.facility_id is not null
        order by f.facility_id
        """
    )


def users() -> pd.DataFrame:
    return query(
        "select user_id, full_name, role, is_custodian_only, is_active, commission_rate, region "
        "from marts.dim_users order by user_id"
    )


def _products() -> pd.DataFrame:
    """Every catalog number (in order) with its product line: both product filters, one query."""
    return query(
        "select catalog_number, product_line from marts.dim_products order by catalog_number"
    )


def product_lines() -> list[str]:
    return sorted(set(_products()["product_line"].dropna()))


def catalog_numbers() -> list[str]:
    return _products()["catalog_number"].tolist()


def months() -> list[date]:
    """Months present in the reconciliation, newest first."""
    df = query(
        "select distinct month from marts.rpt_reconciliation_monthly "
        "where month is not null order by month desc"
    )
    return [pd.Timestamp(m).date() for m in df["month"]]


def _list(values: Sequence[Any] | None) -> list[Any] | None:
    """A filter value: None (no filter) for an empty selection."""
    return list(values) if values else None


# --------------------------------------------------------------------------------------------
# 1 Overview


def stock_on_hand_totals() -> dict[str, Any]:
    return _scalar_row(
        """
        select
            coalesce(sum(quantity_on_hand), 0)::bigint as quantity_on_hand,
            coalesce(sum(value_on_hand), 0) as value_on_hand,
            count(*) filter (where quantity_on_hand > 0) as items_on_hand,
            count(distinct facility_id) filter (where quantity_on_hand > 0) as facilities
        from marts.fct_facility_stock
        """
    )


def reconciliation_totals(month: date | None = None) -> dict[str, Any]:
    """Sums of rpt_reconciliation_monthly, for one month or (None) all months."""
    return _scalar_row(
        """
        select
            coalesce(sum(stocking_order_revenue), 0) as stocking_order_revenue,
            coalesce(sum(case_sale_revenue), 0) as case_sale_revenue,
            coalesce(sum(expected_revenue), 0) as expected_revenue,
            coalesce(sum(billed_revenue), 0) as billed_revenue,
            coalesce(sum(double_billed_amount), 0) as double_billed_amount,
            coalesce(sum(unbilled_amount), 0) as unbilled_amount,
            coalesce(sum(non_sale_units), 0)::bigint as non_sale_units,
            coalesce(sum(non_sale_value), 0) as non_sale_value,
            coalesce(sum(returned_value), 0) as returned_value
        from marts.rpt_reconciliation_monthly
        where $month::date is null or month = $month::date
        """,
        {"month": month},
    )


SEVERITY_ORDER = ("high", "medium", "low", "info")


def exceptions_by_severity() -> pd.DataFrame:
    return query(
        """
        select severity, count(*) as exceptions
        from marts.fct_exceptions
        group by severity
        order by case lower(severity)
            when 'high' then 1 when 'medium' then 2 when 'low' then 3 when 'info' then 4
            else 5 end
        """
    )


def deliveries() -> pd.DataFrame:
    return query(
        """
        select file_id, entity, source_file, file_format, status, rows_read, rows_loaded,
               rows_rejected, ingested_at
        from audit.ingested_files
        order by file_id
        """
    )


# --------------------------------------------------------------------------------------------
# 2 Facility stock


@dataclass(frozen=True)
class StockFilter:
    facilities: tuple[str, ...] = ()
    product_lines: tuple[str, ...] = ()
    catalog_numbers: tuple[str, ...] = ()
    lot: str | None = None
    expiring_within_days: int | None = None  # None: any expiry

    def params(self) -> dict[str, Any]:
        return {
            "facilities": _list(self.facilities),
            "lines": _list(self.product_lines),
            "catalogs": _list(self.catalog_numbers),
            "lot": (self.lot or "").strip() or None,
            "expiring_within": self.expiring_within_days,
        }


def _on_hand_matching(flt: StockFilter) -> tuple[str, dict[str, Any]]:
    """The on-hand facility-stock rows matching `flt`, and the query parameters.

    Narrow on purpose: the item, its facility, product, attributes and stock figures, no
    names. Names are joined after aggregating (levels) or after cutting to the rows shown
    (items). Only the filters that are set are written into the query, so an unset one costs
    nothing (the product-line filter, say, would otherwise join dim_products to every row).
    The item attributes are fct_facility_stock's own (no join to the item table)."""
    params = {k: v for k, v in flt.params().items() if v is not None}
    conditions = ["fs.quantity_on_hand > 0"]
    if "facilities" in params:
        conditions.append("list_contains($facilities::varchar[], fs.facility_id)")
    if "lines" in params:
        conditions.append(
            "fs.catalog_number in (select catalog_number from marts.dim_products"
            " where list_contains($lines::varchar[], product_line))"
        )
    if "catalogs" in params:
        conditions.append("list_contains($catalogs::varchar[], fs.catalog_number)")
    if "lot" in params:
        conditions.append("fs.lot_number ilike '%' || $lot::varchar || '%'")
    if "expiring_within" in params:
        conditions.append(
            "fs.expiration_date <= current_date + to_days($expiring_within::bigint::integer)"
        )
    where = "\n          and ".join(conditions)
    sql = f"""
        select
            fs.facility_id,
            fs.catalog_number,
            fs.item_id,
            fs.lot_number,
            fs.serial_number,
            fs.expiration_date,
            fs.seller_id,
            fs.stocking_order_id,
            fs.sold_at,
            fs.quantity_on_hand,
            fs.unit_price,
            fs.value_on_hand,
            fs.status
        from marts.fct_facility_stock as fs
        where {where}
    """
    return sql, params


_DAYS_TO_EXPIRY = "date_diff('day', current_date, expiration_date)"

# Detail tables show at most this many rows (read when a page runs, so tests may lower it);
# the page's figures are computed in SQL over every row, and its CSV download holds them all.
DETAIL_ROW_CAP = 1_000


def _facility_stock_items(flt: StockFilter, limit: int | None) -> tuple[str, dict[str, Any]]:
    # The cap applies before names and access counts are joined: only the shown items get them.
    # `picked` is materialized: it is read twice, and otherwise every matching row would be.
    matching, params = _on_hand_matching(flt)
    if limit is not None:
        params["limit"] = limit
    sql = f"""
        with matching as ({matching}),
        picked as materialized (
            select * from matching
            order by expiration_date nulls last, facility_id, catalog_number, item_id
            {"limit $limit" if limit is not None else ""}
        ),
        access as (
            select item_id, count(distinct user_id) as eligible_users
            from marts.fct_facility_stock_access
            where item_id in (select item_id from picked)
            group by item_id
        )
        select
            picked.facility_id,
            fac.facility_name,
            picked.catalog_number,
            prod.product_description,
            prod.product_line,
            picked.item_id,
            picked.lot_number,
            picked.serial_number,
            picked.expiration_date,
            picked.seller_id,
            seller.full_name as seller_name,
            picked.stocking_order_id,
            picked.sold_at,
            date_diff('day', picked.sold_at::date, current_date) as days_on_shelf,
            date_diff('day', current_date, picked.expiration_date) as days_to_expiry,
            picked.quantity_on_hand,
            picked.unit_price,
            picked.value_on_hand,
            picked.status,
            coalesce(access.eligible_users, 0) as eligible_users
        from picked
        left join marts.dim_facilities as fac on fac.facility_id = picked.facility_id
        left join marts.dim_products as prod on prod.catalog_number = picked.catalog_number
        left join marts.dim_users as seller on seller.user_id = picked.seller_id
        left join access on access.item_id = picked.item_id
        order by picked.expiration_date nulls last, picked.facility_id, picked.catalog_number,
                 picked.item_id
        """
    return sql, params


def facility_stock_items(flt: StockFilter) -> pd.DataFrame:
    """The first DETAIL_ROW_CAP on-hand facility-stock items matching the filter (soonest
    expiry first), with seller, shelf time, expiry and how many users may use each."""
    return query(*_facility_stock_items(flt, DETAIL_ROW_CAP))


def facility_stock_items_all(flt: StockFilter) -> pd.DataFrame:
    """Every on-hand item matching the filter, same columns and order (CSV download; uncached)."""
    return query(*_facility_stock_items(flt, None), cached=False)


def facility_stock_totals(flt: StockFilter) -> dict[str, Any]:
    """Units, value, item count and units expiring within 90 days of the filtered items."""
    matching, params = _on_hand_matching(flt)
    return _scalar_row(
        f"""
        with matching as ({matching})
        select
            coalesce(sum(quantity_on_hand), 0)::bigint as quantity_on_hand,
            coalesce(sum(value_on_hand), 0) as value_on_hand,
            count(*) as items,
            coalesce(sum(quantity_on_hand) filter (where {_DAYS_TO_EXPIRY} <= 90), 0)::bigint
                as quantity_expiring_90d
        from matching
        """,
        params,
    )


def facility_stock_levels(flt: StockFilter) -> pd.DataFrame:
    """Stock on hand by facility and product for the filtered items (aggregated first, then
    named: there is one facility name and one product per key)."""
    matching, params = _on_hand_matching(flt)
    return query(
        f"""
        with matching as ({matching}),
        levels as (
            select
                facility_id,
                catalog_number,
                sum(quantity_on_hand)::bigint as quantity_on_hand,
                sum(value_on_hand) as value_on_hand,
                count(*) as items,
                min(sold_at) as oldest_sold_at,
                min(expiration_date) as next_expiration,
                coalesce(sum(quantity_on_hand) filter (where {_DAYS_TO_EXPIRY} <= 90), 0)::bigint
                    as quantity_expiring_90d
            from matching
            group by facility_id, catalog_number
        )
        select
            levels.facility_id,
            fac.facility_name,
            levels.catalog_number,
            prod.product_description,
            prod.product_line,
            levels.quantity_on_hand,
            levels.value_on_hand,
            levels.items,
            levels.oldest_sold_at,
            levels.next_expiration,
            levels.quantity_expiring_90d
        from levels
        left join marts.dim_facilities as fac on fac.facility_id = levels.facility_id
        left join marts.dim_products as prod on prod.catalog_number = levels.catalog_number
        order by levels.facility_id, levels.catalog_number
        """,
        params,
    )


def item_access(item_ids: Sequence[str]) -> pd.DataFrame:
    """Who may use each on-hand facility-stock item now, and by which path."""
    return query(
        """
        select a.item_id, a.facility_id, a.user_id, u.full_name, u.role, a.access_path
        from marts.fct_facility_stock_access as a
        left join marts.dim_users as u on u.user_id = a.user_id
        where a.item_id in (select unnest($items::varchar[]))
        order by a.item_id, a.access_path, a.user_id
        """,
        {"items": list(item_ids)},
    )


# --------------------------------------------------------------------------------------------
# 3 Non-sale usage
#
# Read from fct_non_sale_usage: the non-sale lines of fct_event_lines, each already carrying
# its item's fct_facility_stock record (stocking order, seller, sale date, price) and item
# attributes. A line's value is quantity x that stocking-order unit_price.


def _non_sale_filtered(facilities, reps, date_from, date_to) -> tuple[str, dict[str, Any]]:
    """The matching non-sale lines, and the query parameters. Only the filters that are set
    are written into the query."""
    params = {
        name: value
        for name, value in _usage_params(facilities, reps, date_from, date_to).items()
        if value is not None
    }
    conditions = []
    if "facilities" in params:
        conditions.append("list_contains($facilities::varchar[], u.facility_id)")
    if "reps" in params:
        conditions.append("list_contains($reps::varchar[], u.representative_id)")
    if "date_from" in params:
        conditions.append("u.event_date >= $date_from::date")
    if "date_to" in params:
        conditions.append("u.event_date < $date_to::date + 1")
    where = f"where {' and '.join(conditions)}" if conditions else ""
    return f"select * from marts.fct_non_sale_usage as u {where}", params


_NON_SALE_ORDER = "order by event_date desc, event_id, line_no"


def _non_sale_lines(args: dict[str, Any], limit: int | None) -> tuple[str, dict[str, Any]]:
    """The register: the matching lines (for the capped table, the newest first, cut before the
    names are joined) with facility and representative names and the value of each line."""
    lines, params = _non_sale_filtered(**args)
    if limit is not None:
        lines += f" {_NON_SALE_ORDER} limit $limit"
        params["limit"] = limit
    sql = f"""
        select
            u.event_date,
            u.event_id,
            u.line_no,
            u.facility_id,
            fac.facility_name,
            u.representative_id,
            rep.full_name as representative_name,
            u.item_id,
            u.stocking_order_id,
            u.seller_id,
            u.sold_at,
            u.catalog_number,
            u.lot_number,
            u.serial_number,
            u.quantity,
            u.unit_price,
            u.quantity * u.unit_price as value,
            u.access_path,
            u.custodian_at_use,
            u.billed_amount,
            date_trunc('month', u.event_date)::date as month
        from ({lines}) as u
        left join marts.dim_facilities as fac on fac.facility_id = u.facility_id
        left join marts.dim_users as rep on rep.user_id = u.representative_id
        {_NON_SALE_ORDER}
        """
    return sql, params


def _usage_params(facilities, reps, date_from, date_to) -> dict[str, Any]:
    return {
        "facilities": _list(facilities),
        "reps": _list(reps),
        "date_from": date_from,
        "date_to": date_to,
    }


def non_sale_lines(facilities=(), reps=(), date_from=None, date_to=None) -> pd.DataFrame:
    """The newest DETAIL_ROW_CAP non-sale case lines, with the stocking order each item came
    from."""
    args = dict(facilities=facilities, reps=reps, date_from=date_from, date_to=date_to)
    return query(*_non_sale_lines(args, DETAIL_ROW_CAP))


def non_sale_lines_all(facilities=(), reps=(), date_from=None, date_to=None) -> pd.DataFrame:
    """Every matching non-sale case line, same columns and order (CSV download; uncached)."""
    args = dict(facilities=facilities, reps=reps, date_from=date_from, date_to=date_to)
    return query(*_non_sale_lines(args, None), cached=False)


def non_sale_totals(facilities=(), reps=(), date_from=None, date_to=None) -> dict[str, Any]:
    """Units, value at stocking-order price and line count of the matching non-sale lines."""
    lines, params = _non_sale_filtered(facilities, reps, date_from, date_to)
    return _scalar_row(
        f"""
        select
            coalesce(sum(u.quantity), 0)::bigint as units,
            coalesce(sum(u.quantity * u.unit_price), 0) as value,
            count(*) as lines
        from ({lines}) as u
        """,
        params,
    )


def non_sale_by_month(facilities=(), reps=(), date_from=None, date_to=None) -> pd.DataFrame:
    """Units, value and lines per month, facility and representative (aggregated, then the
    representative's name joined: one per id)."""
    lines, params = _non_sale_filtered(facilities, reps, date_from, date_to)
    return query(
        f"""
        with monthly as (
            select
                date_trunc('month', u.event_date)::date as month,
                u.facility_id,
                u.representative_id,
                sum(u.quantity)::bigint as units,
                sum(u.quantity * u.unit_price) as value,
                count(*) as lines
            from ({lines}) as u
            group by month, u.facility_id, u.representative_id
        )
        select
            monthly.month,
            monthly.facility_id,
            monthly.representative_id,
            rep.full_name as representative_name,
            monthly.units,
            monthly.value,
            monthly.lines
        from monthly
        left join marts.dim_users as rep on rep.user_id = monthly.representative_id
        order by monthly.month, monthly.facility_id, monthly.representative_id
        """,
        params,
    )


def representatives_with_non_sale_usage() -> list[str]:
    df = query(
        "select distinct representative_id from marts.fct_non_sale_usage "
        "where representative_id is not null order by 1"
    )
    return df["representative_id"].tolist()


# --------------------------------------------------------------------------------------------
# 4 Finance reconciliation


def reconciliation(
    facilities: Sequence[str] = (), month_from: date | None = None, month_to: date | None = None
) -> pd.DataFrame:
    return query(
        """
        select r.month, r.facility_id, f.facility_name,
               r.stocking_order_revenue, r.case_sale_revenue, r.expected_revenue,
               r.billed_revenue, r.billed_revenue - r.expected_revenue as billed_minus_expected,
               r.double_billed_amount, r.unbilled_amount, r.non_sale_units, r.non_sale_value,
               r.returned_value
        from marts.rpt_reconciliation_monthly as r
        left join marts.dim_facilities as f on f.facility_id = r.facility_id
        where ($facilities::varchar[] is null
               or list_contains($facilities::varchar[], r.facility_id))
          and ($month_from::date is null or r.month >= $month_from::date)
          and ($month_to::date is null or r.month <= $month_to::date)
        order by r.month desc, r.facility_id
        """,
        {"facilities": _list(facilities), "month_from": month_from, "month_to": month_to},
    )


BILLING_CODES = {"DOUBLE_BILLED": "double billed", "UNBILLED_SALE": "unbilled sale"}


def billing_problem_lines(
    codes: Sequence[str] = tuple(BILLING_CODES),
    facilities: Sequence[str] = (),
    month_from: date | None = None,
    month_to: date | None = None,
) -> pd.DataFrame:
    """Double-billed and unbilled lines (fct_exceptions) with their line from fct_event_lines."""
    return query(
        """
        select
            x.code,
            date_trunc('month', l.event_date)::date as month,
            l.event_id, l.line_no, l.event_type, l.event_date, l.facility_id,
            l.representative_id, u.full_name as representative_name, l.item_id, l.quantity,
            l.usage_class, l.access_path, l.custodian_at_use, l.expected_amount,
            l.billed_amount, fs.stocking_order_id, x.detail
        from marts.fct_exceptions as x
        join marts.fct_event_lines as l on l.event_id = x.event_id and l.line_no = x.line_no
        left join marts.fct_facility_stock as fs on fs.item_id = l.item_id
        left join marts.dim_users as u on u.user_id = l.representative_id
        where list_contains($codes::varchar[], x.code)
          and ($facilities::varchar[] is null
               or list_contains($facilities::varchar[], l.facility_id))
          and ($month_from::date is null or l.event_date >= $month_from::date)
          and ($month_to::date is null
               or l.event_date < $month_to::date + interval 1 month)
        order by l.event_date desc, l.event_id, l.line_no
        """,
        {
            "codes": list(codes),
            "facilities": _list(facilities),
            "month_from": month_from,
            "month_to": month_to,
        },
    )


# --------------------------------------------------------------------------------------------
# 5 Sales and commission


def sales_by_rep(date_from: date | None = None, date_to: date | None = None) -> pd.DataFrame:
    return query(
        """
        select s.representative_id, u.full_name, u.role, u.region, u.commission_rate,
               count(*) as lines, sum(s.quantity)::bigint as units, sum(s.amount) as amount,
               sum(s.commission_amount) as commission_amount
        from marts.fct_sales as s
        left join marts.dim_users as u on u.user_id = s.representative_id
        where ($date_from::date is null or s.sold_at >= $date_from::date)
          and ($date_to::date is null or s.sold_at < $date_to::date + 1)
        group by all
        order by amount desc, s.representative_id
        """,
        {"date_from": date_from, "date_to": date_to},
    )


def sales_lines(
    reps: Sequence[str] = (), date_from: date | None = None, date_to: date | None = None
) -> pd.DataFrame:
    return query(
        """
        select s.sold_at, s.event_id, s.line_no, s.event_type, s.facility_id,
               s.representative_id, u.full_name as representative_name, s.item_id,
               s.catalog_number, s.quantity, s.amount, s.commission_amount
        from marts.fct_sales as s
        left join marts.dim_users as u on u.user_id = s.representative_id
        where ($reps::varchar[] is null or list_contains($reps::varchar[], s.representative_id))
          and ($date_from::date is null or s.sold_at >= $date_from::date)
          and ($date_to::date is null or s.sold_at < $date_to::date + 1)
        order by s.sold_at desc, s.event_id, s.line_no
        """,
        {"reps": _list(reps), "date_from": date_from, "date_to": date_to},
    )


def sales_by_month() -> pd.DataFrame:
    return query(
        """
        select date_trunc('month', sold_at)::date as month, representative_id,
               sum(amount) as amount, sum(commission_amount) as commission_amount
        from marts.fct_sales
        group by all
        order by month, representative_id
        """
    )


def sales_months() -> list[date]:
    """Months with sales-ledger lines, newest first."""
    df = query(
        "select distinct date_trunc('month', sold_at)::date as month from marts.fct_sales "
        "where sold_at is not null order by month desc"
    )
    return [pd.Timestamp(m).date() for m in df["month"]]


def month_bounds(month: date | None) -> tuple[date | None, date | None]:
    """First and last day of `month` (None, None for no month)."""
    if month is None:
        return None, None
    first = pd.Timestamp(month).replace(day=1)
    return first.date(), (first + pd.offsets.MonthEnd(1)).date()


# --------------------------------------------------------------------------------------------
# 6 Item trace


def find_items(text: str, limit: int = 200) -> pd.DataFrame:
    """Items whose id, serial or lot number contains `text` (case-insensitive)."""
    return query(
        """
        with found as (
            select st.item_id, st.catalog_number, st.lot_number, st.serial_number,
                   st.expiration_date, st.custodian_id, st.is_active, st.is_facility_stock,
                   st.facility_id, st.quantity_remaining
            from marts.fct_inventory_status as st
            where st.item_id ilike '%' || $text || '%'
               or st.serial_number ilike '%' || $text || '%'
               or st.lot_number ilike '%' || $text || '%'
            order by (st.item_id = $text or st.serial_number = $text
                      or st.lot_number = $text) desc, st.item_id
            limit $limit
        )
        select found.item_id, found.catalog_number, p.product_description, found.lot_number,
               found.serial_number, found.expiration_date, found.custodian_id, found.is_active,
               found.is_facility_stock, found.facility_id, found.quantity_remaining
        from found
        left join marts.dim_products as p on p.catalog_number = found.catalog_number
        order by (found.item_id = $text or found.serial_number = $text
                  or found.lot_number = $text) desc, found.item_id
        """,
        {"text": text.strip(), "limit": limit},
    )


def item_status(item_id: str) -> dict[str, Any]:
    return _scalar_row(
        """
        select st.item_id, st.catalog_number, st.lot_number, st.serial_number,
               st.expiration_date, st.custodian_id, st.is_active, st.is_facility_stock,
               st.facility_id, st.quantity_remaining, st.deactivated_at, st.deactivation_reason,
               p.product_description, p.product_line, p.tracking
        from marts.fct_inventory_status as st
        left join marts.dim_products as p on p.catalog_number = st.catalog_number
        where st.item_id = $item
        """,
        {"item": item_id},
    )


def item_custody(item_id: str) -> pd.DataFrame:
    return query(
        """
        select c.valid_from, c.valid_to, c.custodian_id,
               coalesce(u.full_name, case when c.custodian_id = 'ORG'
                                          then 'Organization stock room' end) as custodian_name,
               coalesce(u.role, case when c.custodian_id = 'ORG' then 'ORG' end)
                   as custodian_role
        from marts.fct_custody_intervals as c
        left join marts.dim_users as u on u.user_id = c.custodian_id
        where c.item_id = $item
        order by c.valid_from
        """,
        {"item": item_id},
    )


def item_event_lines(item_id: str) -> pd.DataFrame:
    return query(
        """
        select event_date, event_id, line_no, event_type, facility_id, representative_id,
               quantity, usage_class, access_path, custodian_at_use, expected_amount,
               billed_amount
        from marts.fct_event_lines
        where item_id = $item
        order by event_date, event_id, line_no
        """,
        {"item": item_id},
    )


def items_event_lines(item_ids: Sequence[str]) -> pd.DataFrame:
    """Event lines of several items (e.g. every record of one lot), newest first."""
    return query(
        """
        select event_date, item_id, event_id, line_no, event_type, facility_id,
               representative_id, quantity, usage_class, expected_amount, billed_amount
        from marts.fct_event_lines
        where item_id in (select unnest($items::varchar[]))
        order by event_date desc, event_id, line_no
        """,
        {"items": list(item_ids)},
    )


def item_facility_stock(item_id: str) -> pd.DataFrame:
    return query(
        """
        select facility_id, seller_id, stocking_order_id, sold_at, quantity_sold, quantity_used,
               quantity_returned, quantity_on_hand, unit_price, value_on_hand, status
        from marts.fct_facility_stock
        where item_id = $item
        """,
        {"item": item_id},
    )


def item_exceptions(item_id: str) -> pd.DataFrame:
    return query(
        """
        select code, severity, occurred_at, event_id, line_no, user_id, facility_id,
               transfer_id, detail
        from marts.fct_exceptions
        where item_id = $item
        order by occurred_at, code
        """,
        {"item": item_id},
    )


# --------------------------------------------------------------------------------------------
# 7 Exceptions


def exception_codes() -> pd.DataFrame:
    return query(
        "select code, any_value(severity) as severity, count(*) as exceptions "
        "from marts.fct_exceptions group by code order by exceptions desc, code"
    )


def exceptions(
    codes: Sequence[str] = (), severities: Sequence[str] = (), facilities: Sequence[str] = ()
) -> pd.DataFrame:
    return query(
        """
        select code, severity, occurred_at, event_id, line_no, item_id, user_id,
               facility_id, transfer_id, detail
        from marts.fct_exceptions
        where ($codes::varchar[] is null or list_contains($codes::varchar[], code))
          and ($sev::varchar[] is null or list_contains($sev::varchar[], severity))
          and ($facilities::varchar[] is null or list_contains($facilities::varchar[], facility_id))
        order by occurred_at desc nulls last, code, event_id, line_no, item_id
        """,
        {"codes": _list(codes), "sev": _list(severities), "facilities": _list(facilities)},
    )


# --------------------------------------------------------------------------------------------
# 8 Data quality


def rejected_rows(entities: Sequence[str] = ()) -> pd.DataFrame:
    return query(
        """
        select entity, source_file, row_number, reason_codes, reasons, record, rejected_at
        from audit.rejected_rows
        where $entities::varchar[] is null or list_contains($entities::varchar[], entity)
        order by entity, source_file, row_number
        """,
        {"entities": _list(entities)},
    )


def rejected_by_reason() -> pd.DataFrame:
    """Rejected rows per entity and reason code (a row with two reasons counts under each)."""
    return query(
        """
        select entity, trim(reason) as reason_code, count(*) as rows
        from audit.rejected_rows, unnest(string_split(reason_codes, ';')) as r(reason)
        group by all
        order by rows desc, entity, reason_code
        """
    )


# --------------------------------------------------------------------------------------------
# 9 SQL console

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

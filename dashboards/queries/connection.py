"""Connections to the warehouse, query caching, and the warehouse checks every page starts with.

The dashboard reads the published marts (schema ``marts``) and, for the data-quality page, the
build summary and the finance page's closed months, the audit records (schema ``audit``).
Nothing else: no raw, staging or intermediate tables. The SQL of each page lives in the module
named after it; every module of ``dashboards.queries`` runs it through `query` here.

Reading while a build runs: each query runs on a cursor of one read-only connection kept open
on the current version of the file named by ``$CUSTODIA_WAREHOUSE`` (read when the query runs).
The build publishes a new warehouse by replacing the file atomically (``os.replace``): the next
query finds the file replaced, drops the kept connection (a connection keeps reading the file it
opened, whole) and opens the new file, so a query sees either the old or the new warehouse,
never half of one. The kept connection closes once the dashboard has been idle for
``KEEP_OPEN_SECONDS``. If the file is briefly locked by a writer, opening retries for a few
seconds, then reports the warehouse as busy.

Results are cached per query and per version of the file (path, inode, size, mtime), so a
rebuilt warehouse is picked up on the next rerun.
"""

from __future__ import annotations

import contextlib
import pickle
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
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

# Opening a warehouse (and closing the last connection to it) costs tens of milliseconds, more
# than most page queries: a page of seven queries spent half its time there. So one read-only
# connection is kept per file version and every query runs on a cursor of it (its own
# connection to the same database instance: safe across threads). It is dropped as soon as a
# query finds the file replaced (the build's os.replace: the kept connection still reads the
# old, whole file, and holds its space on disk until then), and closed once no query has used it
# for KEEP_OPEN_SECONDS, so an idle dashboard does not hold the file.
KEEP_OPEN_SECONDS = 5.0


class _Kept:
    """The connection kept open on one version of the warehouse file."""

    def __init__(self, path: Path, stamp: tuple[int, int, int], con: duckdb.DuckDBPyConnection):
        self.path = path
        self.stamp = stamp
        self.con = con
        self.users = 0
        self.retired = False
        self.last_used = time.monotonic()
        self.timer: threading.Timer | None = None


_kept_lock = threading.Lock()
_kept: _Kept | None = None


def _close_kept(kept: _Kept) -> None:
    """Close `kept` now (the caller holds `_kept_lock`, and `kept` has no user)."""
    global _kept
    if kept.timer is not None:
        kept.timer.cancel()
        kept.timer = None
    if _kept is kept:
        _kept = None
    kept.con.close()


def _retire(kept: _Kept) -> None:
    """No new query gets `kept`; it closes when its last query ends (caller holds the lock)."""
    global _kept
    kept.retired = True
    if _kept is kept:
        _kept = None
    if not kept.users:
        _close_kept(kept)


def close_kept() -> None:
    """Close the kept connection now (or as soon as its running queries end): e.g. before
    this process opens the warehouse itself with other settings, which DuckDB refuses while a
    connection with different settings is open."""
    with _kept_lock:
        if _kept is not None:
            _retire(_kept)


def _close_if_idle(kept: _Kept) -> None:
    with _kept_lock:
        kept.timer = None
        if kept.retired or kept.users:
            return  # in use: its last release arms the timer again
        idle = time.monotonic() - kept.last_used
        if idle >= KEEP_OPEN_SECONDS:
            _retire(kept)
        else:
            _arm(kept, KEEP_OPEN_SECONDS - idle)


def _arm(kept: _Kept, seconds: float) -> None:
    kept.timer = threading.Timer(seconds, _close_if_idle, args=(kept,))
    kept.timer.daemon = True
    kept.timer.start()


def _acquire(path: Path, stamp: tuple[int, int, int]) -> _Kept | None:
    """The kept connection on this version of the file, opened if need be; None when one
    cannot be kept (another path, or an older version still open in this process, whose
    database instance a new connection would get)."""
    global _kept
    with _kept_lock:
        kept = _kept
        if kept is not None and (kept.path != path or kept.stamp != stamp):
            _retire(kept)
            kept = None
        if kept is None:
            with _live_lock:
                if any(version != stamp for version in _live_versions):
                    return None
            con = connect(path)
            try:
                replaced = _stamp(path) != stamp  # replaced while opening: which file is it?
            except WarehouseMissing:
                replaced = True
            if replaced:
                con.close()
                return None
            kept = _kept = _Kept(path, stamp, con)
        kept.users += 1
        return kept


def _release(kept: _Kept) -> None:
    with _kept_lock:
        kept.users -= 1
        if kept.users:
            return
        kept.last_used = time.monotonic()
        if kept.retired:
            _close_kept(kept)
        elif kept.timer is None:  # one timer at a time: it re-arms itself while in use
            _arm(kept, KEEP_OPEN_SECONDS)


@contextlib.contextmanager
def _session(path: Path) -> Iterator[tuple[duckdb.DuckDBPyConnection, tuple[int, int, int]]]:
    """A connection plus the file version it was opened on, counted while open: a cursor of
    the kept connection, or (when none can be kept) a connection of its own."""
    stamp = _stamp(path)
    kept = _acquire(path, stamp)
    if kept is None:
        con = connect(path)
    else:
        try:
            con = kept.con.cursor()
            with contextlib.suppress(duckdb.CatalogException):  # as `connect` does
                con.execute("set search_path = 'marts'")
        except BaseException:
            _release(kept)
            raise
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
        if kept is not None:
            _release(kept)


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


# Results are kept as DataFrames (st.cache_resource) and each caller gets its own copy, cheap
# (Arrow-backed text is shared, never copied): st.cache_data would pickle every result it stores
# and unpickle it on every hit, a tenth of a page's time for the ~100k-row facility-stock
# levels. The parameters are keyed by their pickle (`_params` itself is not hashed): Streamlit's
# hasher walks a list item by item, ~25 ms for the thousand item ids of the stock page.
@st.cache_resource(ttl=600, max_entries=512, show_spinner=False)
def _cached_query(
    path: str,
    stamp: tuple[int, int, int],
    sql: str,
    params_key: bytes,
    _params: Mapping[str, Any] | None,
) -> pd.DataFrame:
    del stamp, params_key  # part of the cache key only
    return _run(Path(path), sql, _params)


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
    key = pickle.dumps(params, protocol=pickle.HIGHEST_PROTOCOL)
    return _cached_query(str(path), stamp, sql, key, params).copy()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__


def scalar_row(sql: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    df = query(sql, params)
    return {} if df.empty else df.iloc[0].to_dict()


def filter_values(values: Sequence[Any] | None) -> list[Any] | None:
    """A filter value: None (no filter) for an empty selection."""
    return list(values) if values else None


# Detail tables show at most this many rows (read when a page runs, so tests may lower it);
# the page's figures are computed in SQL over every row, and its CSV download holds them all.
DETAIL_ROW_CAP = 1_000


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
    "rpt_sales_monthly",
    "rpt_non_sale_monthly",
    "fct_exceptions",
    "dim_exception_codes",
    "rpt_stock_levels",
    "rpt_reconciliation_monthly",
    "rpt_restatements",
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
        scalar_row(
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

"""Small layout helpers shared by the pages: number formats, CSV downloads, messages."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from datetime import date
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboards.formulas import neutralise_cell
from dashboards.queries import connection, exceptions


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(number) else number


def is_missing(value: Any) -> bool:
    """None, NaN or NaT."""
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):  # lists, arrays
        return False


def money(value: Any) -> str:
    """1234.5 -> '$1,234.50'."""
    number = _number(value)
    sign = "-" if number < 0 else ""
    return f"{sign}${abs(number):,.2f}"


def units(value: Any) -> str:
    """1234 -> '1,234'."""
    return f"{round(_number(value)):,}"


def month_label(value: date | pd.Timestamp | None) -> str:
    return "" if value is None else pd.Timestamp(value).strftime("%B %Y")


def safe_csv(frame: pd.DataFrame) -> bytes:
    """CSV of `frame` with spreadsheet formulas neutralised, in text cells and headers."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(neutralise_cell)
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    # Quote every text cell, so a CR or LF inside a value cannot split a row.
    return out.to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode("utf-8")


def download_csv(frame: pd.DataFrame, file_name: str, *, key: str, label: str = "") -> None:
    """A download button for exactly the rows of `frame` (the rows the page shows)."""
    st.download_button(
        label or f"Download CSV ({len(frame):,} rows)",
        data=safe_csv(frame),
        file_name=file_name,
        mime="text/csv",
        key=key,
        on_click="ignore",  # downloading does not rerun the page
        icon=":material/download:",
    )


def download_all_csv(
    fetch: Callable[[], pd.DataFrame], rows: int, file_name: str, *, key: str, label: str = ""
) -> None:
    """A download button for all `rows` rows `fetch` returns, run only when the user clicks
    (deferred generation): a page that shows a capped table need not load every row."""
    st.download_button(
        label or f"Download CSV (all {rows:,} rows)",
        data=lambda: safe_csv(fetch()),
        file_name=file_name,
        mime="text/csv",
        key=key,
        on_click="ignore",  # downloading does not rerun the page
        icon=":material/download:",
    )


def capped_note(shown: pd.DataFrame, total: Any, order: str) -> None:
    """Say when a detail table shows fewer rows than match the filters."""
    total = round(_number(total))
    if len(shown) < total:
        st.caption(
            f"Showing {len(shown):,} of {total:,} rows ({order}); "
            f"the CSV download has all {total:,}."
        )


def show_unavailable(exc: connection.WarehouseUnavailable) -> None:
    """The message a page shows instead of its content when the warehouse cannot answer."""
    if isinstance(exc, connection.WarehouseBusy):
        st.info(str(exc), icon=":material/hourglass_top:")
        return
    st.warning(str(exc), icon=":material/database_off:")
    st.markdown("Build the warehouse from the project folder, then refresh this page:")
    st.code("make run\n# or\ncustodia build", language="bash")


def empty_note(frame: pd.DataFrame, what: str) -> bool:
    """Show a note and return True when `frame` has no rows."""
    if frame.empty:
        st.info(f"No {what} match the current selection.", icon=":material/filter_alt_off:")
        return True
    return False


def _id_label(ids: pd.Series, names: pd.Series):
    """A format_func showing 'id · name' (just the id when the name is missing)."""
    by_id = dict(zip(ids, names, strict=False))

    def label(value: str) -> str:
        name = by_id.get(value)
        return f"{value} · {name}" if isinstance(name, str) and name else value

    return label


def facility_label(facilities: pd.DataFrame):
    """A format_func showing 'F-1 · St. Mary Hospital' for a facility id."""
    return _id_label(facilities["facility_id"], facilities["facility_name"])


def user_label(users: pd.DataFrame):
    """A format_func showing 'U-7 · Ana Ruiz' for a user id."""
    return _id_label(users["user_id"], users["full_name"])


def severity_colour(title: str | None = "Severity"):
    """One colour per exception severity, the same on every chart."""
    return alt.Color(
        "severity:N",
        title=title,
        scale=alt.Scale(
            domain=exceptions.severity_order(),  # most severe first: red, orange, …
            range=["#d62728", "#ff7f0e", "#bcbd22", "#7f7f7f"],
        ),
        legend=None if title is None else alt.Legend(),
    )


def count_axis(title: str):
    return alt.Axis(title=title, tickMinStep=1, format="d")


_DATE_COLUMNS = {
    "month": "MMM YYYY",
    "expiration_date": "YYYY-MM-DD",
    "next_expiration": "YYYY-MM-DD",
}
_MONEY_COLUMNS = ("amount", "revenue", "value", "price", "billed_minus_expected")


def table(frame: pd.DataFrame, *, key: str | None = None, height: int | str = "auto") -> None:
    """st.dataframe with money columns shown as dollars and no index, in a keyed container."""
    config: dict[str, Any] = {
        column: st.column_config.NumberColumn(format="dollar")
        for column in frame.columns
        if any(hint in str(column) for hint in _MONEY_COLUMNS)
        and pd.api.types.is_numeric_dtype(frame[column])
    }
    for column, fmt in _DATE_COLUMNS.items():
        if column in frame.columns and pd.api.types.is_datetime64_any_dtype(frame[column]):
            config[column] = st.column_config.DateColumn(format=fmt)
    # The key goes on a container: st.dataframe only records keys of selectable tables, and
    # tests find a table by its container's key.
    with st.container(key=key):
        st.dataframe(frame, hide_index=True, column_config=config, height=height)

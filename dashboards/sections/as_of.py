"""Point-in-time sections: facility stock on a chosen date (facility-stock page) and who could
use an item on a chosen date (item trace). Layout only; the SQL is dashboards.queries.as_of."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import streamlit as st

from dashboards import ui
from dashboards.queries import as_of as q
from dashboards.sections import older_build_note


def _pick(label: str, key: str) -> q.Instant | None:
    """A date picker (default: the newest data's day = now) and the instant it means; None
    after an error message when the date cannot be answered."""
    try:
        span = q.data_span()
        newest = q.resolve(None).at
    except q.AsOfError as exc:
        st.warning(str(exc))
        return None
    first = q._timestamp(span.get("first_seen_at"))
    chosen = st.date_input(
        label,
        value=newest.date(),
        min_value=date(1900, 1, 1),
        max_value=date(9999, 12, 31),
        key=key,
        help=(
            f"The data runs from {first:%Y-%m-%d} to {newest:%Y-%m-%d %H:%M}. A date means "
            "the end of that day; a later date shows the state at the newest data."
        ),
    )
    try:
        instant = q.resolve(chosen)
    except q.AsOfError as exc:
        st.error(str(exc), icon=":material/event_busy:")
        return None
    if instant.note:
        st.info(instant.note, icon=":material/update:")
    return instant


@older_build_note("The point-in-time view")
def render_stock(facilities: Sequence[str]) -> None:
    st.subheader("Facility stock as of a date")
    st.caption(
        "The stock on hand and who could use it at the end of the chosen day, read off "
        "`fct_facility_stock_intervals` and `fct_facility_stock_access_intervals` (no rebuild). "
        "Facility filter above applies; expiry is judged from the chosen day. The default, "
        "the newest data's day, equals the figures above."
    )
    instant = _pick("Stock as of", key="fs_as_of")
    if instant is None:
        return
    levels = q.stock_levels_at(instant.at, facilities)
    c1, c2, c3 = st.columns(3)
    c1.metric(
        f"Units on hand {instant.at:%Y-%m-%d}",
        ui.units(levels["quantity_on_hand"].sum()),
        border=True,
    )
    c2.metric("Value on hand then", ui.money(levels["value_on_hand"].sum()), border=True)
    c3.metric("Items then", ui.units(levels["items"].sum()), border=True)
    if ui.empty_note(levels, f"facility-stock items on hand at {instant.at:%Y-%m-%d %H:%M}"):
        return
    ui.table(levels, key="fs_as_of_levels_table")
    ui.download_csv(levels, f"facility_stock_levels_{instant.at:%Y%m%d}.csv", key="fs_as_of_csv")
    access = q.stock_access_at(instant.at, facilities)
    st.markdown(f"**Who could use this stock then** ({len(access):,} item × user rows)")
    if not ui.empty_note(access, "users with access then"):
        ui.table(access, key="fs_as_of_access_table")
        ui.download_csv(
            access, f"facility_stock_access_{instant.at:%Y%m%d}.csv", key="fs_as_of_access_csv"
        )


@older_build_note("The point-in-time view")
def render_item(item_id: str) -> None:
    st.subheader("Who could use this item on a date")
    instant = _pick("Who could use it on", key="trace_as_of")
    if instant is None:
        return
    answer = q.item_access_at(item_id, instant.at)
    st.markdown(f"**{answer['state'].replace('_', ' ').title()}** · {answer['explanation']}")
    access = answer["access"]
    if answer["state"] in ("FACILITY_STOCK", "CUSTODY") and not ui.empty_note(
        access, "users with a path then"
    ):
        ui.table(access, key="trace_as_of_table")

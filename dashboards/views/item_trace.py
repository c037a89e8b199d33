"""Item trace: where an item (or lot) is now, where it has been, and which events used it."""

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import ui
from dashboards.queries import facility_stock
from dashboards.queries import item_trace as q
from dashboards.sections import as_of

st.title("Item trace")

text = st.text_input(
    "Item id, serial number or lot number",
    key="trace_query",
    placeholder="e.g. SN-1001 or LOT-A (partial matches work)",
)
if not text.strip():
    st.info(
        "Enter an item id, a serial number or a lot number to trace it.", icon=":material/search:"
    )
    st.stop()

matches = q.find_items(text)
if matches.empty:
    st.warning(f"No item matches “{text.strip()}”.")
    st.stop()

st.subheader(f"Matching items ({len(matches)})")
ui.table(matches, key="trace_matches_table")
item_id = st.selectbox("Item to trace", matches["item_id"].tolist(), key="trace_item")

status = q.item_status(item_id)
st.subheader(
    f"{item_id} · {status.get('product_description') or status.get('catalog_number') or ''}"
)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Custodian now", str(status.get("custodian_id") or "—"), border=True)
c2.metric("Active", "yes" if status.get("is_active") else "no", border=True)
c3.metric(
    "Facility stock",
    f"yes · {status.get('facility_id')}" if status.get("is_facility_stock") else "no",
    border=True,
)
c4.metric("Quantity remaining", ui.units(status.get("quantity_remaining")), border=True)
DETAILS = (
    "catalog_number",
    "lot_number",
    "serial_number",
    "expiration_date",
    "deactivated_at",
    "deactivation_reason",
)
shown = {k: status.get(k) for k in DETAILS if not ui.is_missing(status.get(k))}
if isinstance(shown.get("expiration_date"), pd.Timestamp):
    shown["expiration_date"] = shown["expiration_date"].date()
st.caption(" · ".join(f"{k.replace('_', ' ')}: {v}" for k, v in shown.items()))

stock = q.item_facility_stock(item_id)
if not stock.empty:
    st.subheader("Facility stock")
    ui.table(stock, key="trace_stock_table")
    access = facility_stock.item_access([item_id])
    st.markdown("**Who may use it now**")
    if access.empty:
        st.caption("Nobody: the item is not on hand (or no user has a path to its seller).")
    else:
        ui.table(access, key="trace_access_table")

st.subheader("Custody history")
custody = q.item_custody(item_id)
if not ui.empty_note(custody, "custody intervals"):
    timeline = custody.copy()
    # An open interval runs to the item's deactivation, or to now while it is active.
    end = status.get("deactivated_at")
    end = pd.Timestamp.now().floor("s") if ui.is_missing(end) else pd.Timestamp(end)
    timeline["valid_to_shown"] = timeline["valid_to"].fillna(end)
    chart = (
        alt.Chart(timeline)
        .mark_bar(height=16)
        .encode(
            x=alt.X("valid_from:T", title=None),
            x2="valid_to_shown:T",
            y=alt.Y("custodian_id:N", title="Custodian", sort=None),
            color=alt.Color("custodian_role:N", title="Role"),
            tooltip=["custodian_id", "custodian_name", "valid_from", "valid_to"],
        )
    )
    st.altair_chart(chart, width="stretch")
    ui.table(custody, key="trace_custody_table")

as_of.render_item(item_id)

st.subheader("Events")
events = q.item_event_lines(item_id)
if not ui.empty_note(events, "event lines"):
    ui.table(events, key="trace_events_table")

if len(matches) > 1:
    st.subheader(f"All {len(matches)} matching items")
    st.caption("Every event line on the items that match the search (e.g. all records of a lot).")
    all_lines = q.items_event_lines(matches["item_id"].tolist())
    if not ui.empty_note(all_lines, "event lines"):
        ui.table(all_lines, key="trace_all_events_table")

st.subheader("Exceptions")
problems = q.item_exceptions(item_id)
if problems.empty:
    st.success("No exceptions on this item.", icon=":material/check_circle:")
else:
    ui.table(problems, key="trace_exceptions_table")

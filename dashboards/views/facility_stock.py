"""Facility stock: what each hospital holds, by product, lot and expiry, and who may use it."""

from functools import partial

import altair as alt
import streamlit as st

from dashboards import ui
from dashboards.filters import FilterBar
from dashboards.queries import facility_stock as q
from dashboards.queries import reference
from dashboards.sections import as_of

st.title("Facility stock")
st.caption(
    "Items sold to a facility on a stocking order and not yet used or returned. "
    "Using them in a case is non-sale usage: they were already billed."
)

facilities = reference.facilities()
EXPIRY_WINDOWS = {
    None: "Any expiry",
    30: "Expiring within 30 days",
    90: "Within 90 days",
    180: "Within 180 days",
    365: "Within a year",
}

bar = FilterBar([3, 2, 2, 2, 2])
selected_facilities = bar.facilities(facilities, key="fs_facility")
selected_lines = bar.choose(
    "Product line", reference.product_lines(), key="fs_product_line", placeholder="All lines"
)
selected_catalogs = bar.choose(
    "Catalog number", reference.catalog_numbers(), key="fs_catalog", placeholder="All products"
)
lot = bar.next_column().text_input("Lot contains", key="fs_lot", placeholder="e.g. LOT-A")
window = bar.next_column().selectbox(
    "Expiry window", list(EXPIRY_WINDOWS), format_func=EXPIRY_WINDOWS.get, key="fs_expiry"
)
flt = q.StockFilter(
    facilities=tuple(selected_facilities),
    product_lines=tuple(selected_lines),
    catalog_numbers=tuple(selected_catalogs),
    lot=lot,
    expiring_within_days=window,
)

totals = q.facility_stock_totals(flt)
levels = q.facility_stock_levels(flt)
items = q.facility_stock_items(flt)  # at most DETAIL_ROW_CAP rows (queries.connection)

c1, c2, c3, c4 = st.columns(4)
c1.metric("Units on hand", ui.units(totals.get("quantity_on_hand")), border=True)
c2.metric("Value on hand", ui.money(totals.get("value_on_hand")), border=True)
c3.metric("Items", ui.units(totals.get("items")), border=True)
c4.metric(
    "Units expiring within 90 days", ui.units(totals.get("quantity_expiring_90d")), border=True
)

st.subheader("Levels by facility and product")
if not ui.empty_note(levels, "facility-stock levels"):
    chart = (
        alt.Chart(levels)
        .mark_bar()
        .encode(
            x=alt.X("quantity_on_hand:Q", title="Units on hand"),
            y=alt.Y("facility_id:N", title="Facility"),
            color=alt.Color("product_line:N", title="Product line"),
            tooltip=[
                "facility_id",
                "facility_name",
                "catalog_number",
                "product_description",
                "quantity_on_hand",
                alt.Tooltip("value_on_hand:Q", format="$,.2f"),
                "next_expiration",
            ],
        )
    )
    st.altair_chart(chart, width="stretch")
    ui.table(levels, key="fs_levels_table")
    ui.download_csv(levels, "facility_stock_levels.csv", key="fs_levels_csv")

st.subheader("Items")
if not ui.empty_note(items, "facility-stock items"):
    ui.capped_note(items, totals.get("items"), "soonest expiry first")
    ui.table(items, key="fs_items_table")
    ui.download_all_csv(
        partial(q.facility_stock_items_all, flt),
        int(totals.get("items") or 0),
        "facility_stock_items.csv",
        key="fs_items_csv",
    )

    st.subheader("Who may use these items now")
    st.caption(
        "From `fct_facility_stock_access`: the seller (OWN), sales reps linked to a sharing "
        "distributor seller (DISTRIBUTOR_SHARE), and a full distributor over its reps' stock "
        "(DISTRIBUTOR_OVER_REP). Admins reach everything and are not listed; custodian-only "
        "accounts never act, so they are not listed either (not even as the seller)."
    )
    item_ids = items["item_id"].tolist()
    chosen = st.selectbox(
        "Item",
        [None, *item_ids],
        key="fs_item",
        format_func=lambda i: "All items shown above" if i is None else i,
    )
    access = q.item_access([chosen] if chosen else item_ids)
    if not ui.empty_note(access, "users with access"):
        ui.table(access, key="fs_access_table")

as_of.render_stock(selected_facilities)

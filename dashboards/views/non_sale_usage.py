"""Non-sale usage: facility stock consumed in cases, over time, by facility and rep."""

from functools import partial

import altair as alt
import streamlit as st

from dashboards import ui
from dashboards.filters import FilterBar
from dashboards.queries import non_sale_usage as q
from dashboards.queries import reference

st.title("Non-sale usage")
st.caption(
    "Case lines that consumed facility stock. They carry no revenue: the items were sold on "
    "the stocking order shown beside each line."
)

bar = FilterBar([3, 3, 2])
selected_facilities = bar.facilities(reference.facilities(), key="nsu_facility")
selected_reps = bar.representatives(
    q.representatives_with_non_sale_usage(), reference.users(), key="nsu_rep"
)
date_from, date_to = bar.date_range("Case dates", key="nsu_dates")

args = dict(
    facilities=selected_facilities, reps=selected_reps, date_from=date_from, date_to=date_to
)
totals = q.non_sale_totals(**args)
monthly = q.non_sale_by_month(**args)
lines = q.non_sale_lines(**args)  # the newest DETAIL_ROW_CAP (queries.connection)

c1, c2, c3 = st.columns(3)
c1.metric("Units used", ui.units(totals.get("units")), border=True)
c2.metric("Value at stocking-order price", ui.money(totals.get("value")), border=True)
c3.metric("Case lines", ui.units(totals.get("lines")), border=True)

st.subheader("Consumption over time")
split = st.radio("Split by", ["Facility", "Representative"], horizontal=True, key="nsu_split")
if not ui.empty_note(monthly, "non-sale usage lines"):
    colour = "facility_id" if split == "Facility" else "representative_id"
    chart = (
        alt.Chart(monthly)
        .mark_bar()
        .encode(
            x=alt.X("yearmonth(month):O", title="Month"),
            y=alt.Y("sum(units):Q", title="Units"),
            color=alt.Color(f"{colour}:N", title=split),
            tooltip=[
                "month",
                "facility_id",
                "representative_id",
                "representative_name",
                "units",
                alt.Tooltip("value:Q", format="$,.2f"),
            ],
        )
    )
    st.altair_chart(chart, width="stretch")

st.subheader("Register of non-sale case lines")
if not ui.empty_note(lines, "non-sale case lines"):
    ui.capped_note(lines, totals.get("lines"), "newest first")
    ui.table(lines, key="nsu_lines_table")
    ui.download_all_csv(
        partial(q.non_sale_lines_all, **args),
        int(totals.get("lines") or 0),
        "non_sale_usage.csv",
        key="nsu_csv",
    )

"""Sales and commission by representative (the sales ledger, fct_sales)."""

import altair as alt
import streamlit as st

from dashboards import ui
from dashboards.filters import FilterBar
from dashboards.queries import reference
from dashboards.queries import sales as q

st.title("Sales and commission")
st.caption(
    "Each unit is revenue once: stocking-order lines and case sale lines. Non-sale usage of "
    "facility stock earns no commission."
)

users = reference.users()
months = q.sales_months()
month = st.columns([1, 3])[0].selectbox(
    "Month",
    [*months, None],
    index=0,
    format_func=lambda m: "All months" if m is None else ui.month_label(m),
    key="sales_month",
)
date_from, date_to = q.month_bounds(month)

by_rep = q.sales_by_rep(date_from, date_to)
c1, c2, c3 = st.columns(3)
c1.metric("Sales", ui.money(by_rep["amount"].sum()), border=True)
c2.metric("Commission due", ui.money(by_rep["commission_amount"].sum()), border=True)
c3.metric("Representatives", ui.units(len(by_rep)), border=True)

st.subheader("By representative")
if not ui.empty_note(by_rep, "sales"):
    chart = (
        alt.Chart(by_rep)
        .mark_bar()
        .encode(
            x=alt.X("amount:Q", title="Sales ($)"),
            y=alt.Y("representative_id:N", sort="-x", title="Representative"),
            color=alt.Color("role:N"),
            tooltip=[
                "representative_id",
                "full_name",
                "role",
                alt.Tooltip("amount:Q", format="$,.2f"),
                alt.Tooltip("commission_amount:Q", format="$,.2f"),
            ],
        )
    )
    st.altair_chart(chart, width="stretch")
    ui.table(by_rep, key="sales_rep_table")
    ui.download_csv(by_rep, "sales_by_representative.csv", key="sales_rep_csv")

st.subheader("Sales by month")
by_month = q.sales_by_month()
if not ui.empty_note(by_month, "sales"):
    trend = (
        alt.Chart(by_month)
        .mark_bar()
        .encode(
            x=alt.X("yearmonth(month):O", title="Month"),
            y=alt.Y("sum(amount):Q", title="Sales ($)"),
            color=alt.Color("representative_id:N", title="Representative"),
            tooltip=[
                "month",
                "representative_id",
                alt.Tooltip("amount:Q", format="$,.2f"),
                alt.Tooltip("commission_amount:Q", format="$,.2f"),
            ],
        )
    )
    st.altair_chart(trend, width="stretch")

st.subheader("Sales lines")
reps = FilterBar().representatives(by_rep["representative_id"], users, key="sales_reps")
lines = q.sales_lines(reps, date_from, date_to)
if not ui.empty_note(lines, "sales lines"):
    ui.table(lines, key="sales_lines_table")
    ui.download_csv(lines, "sales_lines.csv", key="sales_lines_csv")

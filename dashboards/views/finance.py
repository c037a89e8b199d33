"""Finance reconciliation: revenue counted once, nothing billed twice, nothing left unbilled."""

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import ui
from dashboards.filters import FilterBar
from dashboards.queries import finance as q
from dashboards.queries import reference
from dashboards.sections import price_variance, restatements

st.title("Finance reconciliation")
st.caption(
    "Per month and facility (`rpt_reconciliation_monthly`). Expected revenue counts each unit "
    "once: stocking-order lines plus case sale lines; non-sale usage of facility stock adds "
    "nothing."
)

months = reference.months()  # newest first
bar = FilterBar([3, 2, 2])
selected_facilities = bar.facilities(reference.facilities(), key="fin_facility")
month_from = bar.month("From month", reversed(months), key="fin_from", unset="Earliest")
month_to = bar.month("To month", months, key="fin_to", unset="Latest")

recon = q.reconciliation(selected_facilities, month_from, month_to)
c1, c2, c3, c4, c5 = st.columns(5)
c1.metric("Stocking-order revenue", ui.money(recon["stocking_order_revenue"].sum()), border=True)
c2.metric("Case sale revenue", ui.money(recon["case_sale_revenue"].sum()), border=True)
c3.metric("Expected revenue", ui.money(recon["expected_revenue"].sum()), border=True)
c4.metric("Billed revenue", ui.money(recon["billed_revenue"].sum()), border=True)
c5.metric("Returned value (credit)", ui.money(recon["returned_value"].sum()), border=True)
c1, c2, c3, _ = st.columns([1, 1, 1, 2])
c1.metric("Double-billed amount", ui.money(recon["double_billed_amount"].sum()), border=True)
c2.metric("Unbilled amount", ui.money(recon["unbilled_amount"].sum()), border=True)
c3.metric("Non-sale units", ui.units(recon["non_sale_units"].sum()), border=True)

st.subheader("Expected vs billed by month")
if not ui.empty_note(recon, "reconciliation rows"):
    by_month = (
        recon.groupby("month", as_index=False)[["expected_revenue", "billed_revenue"]]
        .sum()
        .melt("month", var_name="measure", value_name="amount")
    )
    by_month["month"] = pd.to_datetime(by_month["month"])
    chart = (
        alt.Chart(by_month)
        .mark_bar()
        .encode(
            x=alt.X("yearmonth(month):O", title="Month"),
            xOffset="measure:N",
            y=alt.Y("amount:Q", title="Amount ($)"),
            color=alt.Color("measure:N", title=None),
            tooltip=["month", "measure", alt.Tooltip("amount:Q", format="$,.2f")],
        )
    )
    st.altair_chart(chart, width="stretch")
    st.subheader("Month × facility")
    ui.table(recon, key="fin_table")
    ui.download_csv(recon, "reconciliation_monthly.csv", key="fin_csv")

st.subheader("Lines to fix")
PROBLEMS = {
    "Double billed": ("DOUBLE_BILLED",),
    "Unbilled": ("UNBILLED_SALE",),
    "Both": ("DOUBLE_BILLED", "UNBILLED_SALE"),
}
problem = st.radio("Show", list(PROBLEMS), index=2, horizontal=True, key="fin_problem")
st.caption(
    "Double billed: facility stock used in a case and billed again (it was sold on the "
    "stocking order shown). Unbilled: a sale line billed nothing."
)
lines = q.billing_problem_lines(PROBLEMS[problem], selected_facilities, month_from, month_to)
if not ui.empty_note(lines, "double-billed or unbilled lines"):
    ui.table(lines, key="fin_lines_table")
    ui.download_csv(lines, "billing_problem_lines.csv", key="fin_lines_csv")

price_variance.render(selected_facilities, month_from, month_to)
restatements.render(selected_facilities, month_from, month_to)

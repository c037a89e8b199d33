"""Overview: stock on hand, non-sale usage, billing and exceptions at a glance."""

import altair as alt
import streamlit as st

from dashboards import ui
from dashboards.queries import connection, data_quality, exceptions, reference
from dashboards.queries import overview as q

st.title("Overview")

months = reference.months()
month = st.columns([1, 3])[0].selectbox(
    "Month",
    months,
    index=0,
    format_func=ui.month_label,
    key="overview_month",
    help="Month of the usage and billing figures (latest month in the warehouse first).",
    placeholder="No months in the warehouse yet",
)

stock = q.stock_on_hand_totals()
st.subheader("Facility stock on hand")
c1, c2, c3 = st.columns(3)
c1.metric("Units on hand", ui.units(stock.get("quantity_on_hand")), border=True)
c2.metric("Value on hand", ui.money(stock.get("value_on_hand")), border=True)
c3.metric("Facilities holding stock", ui.units(stock.get("facilities")), border=True)

recon = q.reconciliation_totals(month) if month else {}
st.subheader(f"Usage and billing · {ui.month_label(month) or 'no month'}")
c1, c2, c3, c4 = st.columns(4)
c1.metric("Non-sale usage (units)", ui.units(recon.get("non_sale_units")), border=True)
c2.metric("Non-sale usage (value)", ui.money(recon.get("non_sale_value")), border=True)
c3.metric("Expected revenue", ui.money(recon.get("expected_revenue")), border=True)
billed_gap = ui._number(recon.get("billed_revenue")) - ui._number(recon.get("expected_revenue"))
c4.metric(
    "Billed revenue",
    ui.money(recon.get("billed_revenue")),
    delta=f"{ui.money(billed_gap)} vs expected" if round(billed_gap, 2) else None,
    delta_color="inverse",
    border=True,
)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Double-billed amount", ui.money(recon.get("double_billed_amount")), border=True)
c2.metric("Unbilled amount", ui.money(recon.get("unbilled_amount")), border=True)
c3.metric("Stocking-order revenue", ui.money(recon.get("stocking_order_revenue")), border=True)
c4.metric("Case sale revenue", ui.money(recon.get("case_sale_revenue")), border=True)

st.subheader("Open exceptions by severity")
severity = exceptions.exceptions_by_severity()
if severity.empty:
    st.success("No exceptions in the warehouse.", icon=":material/check_circle:")
else:
    columns = st.columns(max(len(severity), 1))
    for column, row in zip(columns, severity.itertuples(index=False), strict=False):
        label = f"{str(row.severity).capitalize()} severity"
        column.metric(label, ui.units(row.exceptions), border=True)
    chart = (
        alt.Chart(severity)
        .mark_bar()
        .encode(
            x=alt.X("exceptions:Q", axis=ui.count_axis("Exceptions")),
            y=alt.Y("severity:N", sort=list(severity["severity"]), title=None),
            color=ui.severity_colour(None),
            tooltip=["severity", "exceptions"],
        )
        .properties(height=40 * len(severity) + 20)
    )
    st.altair_chart(chart, width="stretch")
    st.page_link("views/exceptions.py", label="Open the exceptions page", icon=":material/report:")

st.subheader("Warehouse build")
info = connection.build_info()
published = info["published_at"].strftime("%Y-%m-%d %H:%M UTC")
last = info.get("last_ingested_at")
last_text = "" if ui.is_missing(last) else f", last delivery ingested {last:%Y-%m-%d %H:%M} UTC"
st.markdown(
    f"Published **{published}** from **{ui.units(info.get('files'))}** delivered files "
    f"({ui.units(info.get('entities'))} entities, {ui.units(info.get('rows_loaded'))} rows "
    f"loaded, {ui.units(info.get('rows_rejected'))} rejected{last_text})."
)
st.caption(f"Warehouse file: `{info['path']}`")
with st.expander("Deliveries in this build"):
    ui.table(data_quality.deliveries())

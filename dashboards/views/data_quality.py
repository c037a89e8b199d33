"""Data quality: which deliveries were loaded, and which rows were rejected and why."""

import altair as alt
import streamlit as st

from dashboards import ui
from dashboards.queries import data_quality as q

st.title("Data quality")

files = q.deliveries()
c1, c2, c3, c4 = st.columns(4)
c1.metric("Files delivered", ui.units(len(files)), border=True)
c2.metric("Rows loaded", ui.units(files["rows_loaded"].sum()), border=True)
c3.metric("Rows rejected", ui.units(files["rows_rejected"].sum()), border=True)
c4.metric("Files failed", ui.units((files["status"] == "FAILED").sum()), border=True)

st.subheader("Deliveries")
if not ui.empty_note(files, "deliveries"):
    ui.table(files, key="dq_files_table")

st.subheader("Rejected rows by reason")
reasons = q.rejected_by_reason()
if reasons.empty:
    st.success("No rows were rejected.", icon=":material/check_circle:")
else:
    chart = (
        alt.Chart(reasons)
        .mark_bar()
        .encode(
            x=alt.X("rows:Q", axis=ui.count_axis("Rows")),
            y=alt.Y("reason_code:N", sort="-x", title="Reason"),
            color=alt.Color("entity:N", title="Entity"),
            tooltip=["entity", "reason_code", "rows"],
        )
    )
    st.altair_chart(chart, width="stretch")

    entities = st.multiselect(
        "Entity", sorted(reasons["entity"].unique()), key="dq_entity", placeholder="All entities"
    )
    rejected = q.rejected_rows(entities)
    st.subheader(f"Rejected rows ({len(rejected):,})")
    if not ui.empty_note(rejected, "rejected rows"):
        ui.table(rejected, key="dq_rejected_table")
        ui.download_csv(rejected, "rejected_rows.csv", key="dq_csv")

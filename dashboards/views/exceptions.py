"""Exceptions: records that break the rules, by code and severity."""

import altair as alt
import streamlit as st

from dashboards import ui
from dashboards.filters import FilterBar
from dashboards.queries import exceptions as q
from dashboards.queries import reference

st.title("Exceptions")
st.caption(
    "One row per offending record (`fct_exceptions`); each code's severity, rule and meaning "
    "come from `dim_exception_codes`."
)

codes = q.exception_codes()
severities = q.severity_order()
with st.expander("What the codes found mean"):
    ui.table(codes[["code", "severity", "rule", "description", "exceptions"]], key="exc_codes")
bar = FilterBar([3, 2, 3])
selected_codes = bar.choose("Code", codes["code"], key="exc_code", placeholder="All codes")
selected_severities = bar.choose(
    "Severity",
    [s for s in severities if s in set(codes["severity"])]
    + sorted(set(codes["severity"].dropna()) - set(severities)),
    key="exc_severity",
    placeholder="All severities",
)
selected_facilities = bar.facilities(reference.facilities(), key="exc_facility")

rows = q.exceptions(selected_codes, selected_severities, selected_facilities)
counts = rows["severity"].value_counts()
columns = st.columns(len(severities) + 1)
columns[0].metric("Exceptions", ui.units(len(rows)), border=True)
for column, severity in zip(columns[1:], severities, strict=True):
    column.metric(severity.capitalize(), ui.units(counts.get(severity, 0)), border=True)

if not ui.empty_note(rows, "exceptions"):
    by_code = rows.groupby(["code", "severity"], as_index=False).size()
    chart = (
        alt.Chart(by_code)
        .mark_bar()
        .encode(
            x=alt.X("size:Q", axis=ui.count_axis("Exceptions")),
            y=alt.Y("code:N", sort="-x", title=None),
            color=ui.severity_colour(),
            tooltip=["code", "severity", "size"],
        )
    )
    st.altair_chart(chart, width="stretch")
    ui.table(rows, key="exc_table")
    ui.download_csv(rows, "exceptions.csv", key="exc_csv")

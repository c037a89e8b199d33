"""SQL: read-only analyst queries against the marts, with a schema browser."""

import streamlit as st

from dashboards import ui
from dashboards.queries import analyst as q

st.title("SQL")
st.caption(
    f"One read-only SELECT against the marts (`marts`, unqualified names resolve there) or "
    f"the ingestion audit (`audit`). Stopped after {q.ANALYST_TIME_LIMIT_SECONDS:g} s; the first "
    f"{q.ANALYST_ROW_CAP:,} rows are shown. No writes, files, extensions or settings."
)

sql = st.text_area(
    "Query",
    key="sql_text",
    height=160,
    value="select facility_id, catalog_number, quantity_on_hand, value_on_hand\n"
    "from rpt_stock_levels\norder by value_on_hand desc",
)
if st.button("Run query", key="sql_run", type="primary", icon=":material/play_arrow:"):
    try:
        outcome = q.run_analyst_query(sql)
    except q.RefusedQuery as exc:
        outcome = str(exc)
    # Kept until the query text changes, so other reruns do not wipe the answer.
    st.session_state["sql_last"] = (sql, outcome)

last = st.session_state.get("sql_last")
if last and last[0] == sql:
    outcome = last[1]
    if isinstance(outcome, str):
        st.error(outcome, icon=":material/block:")
    else:
        note = f"{outcome.row_count:,} rows in {outcome.seconds * 1000:,.0f} ms"
        if outcome.truncated:
            st.warning(
                f"Result capped: showing the first {q.ANALYST_ROW_CAP:,} rows.",
                icon=":material/content_cut:",
            )
            note = f"first {note}"
        st.caption(note)
        ui.table(outcome.frame, key="sql_result_table")
        ui.download_csv(outcome.frame, "query_result.csv", key="sql_csv")

st.subheader("Schema browser")
catalog = q.schema_catalog()
for (schema, table), columns in catalog.groupby(["schema_name", "table_name"], sort=True):
    description = columns["table_description"].dropna()
    label = f"{schema}.{table}" + (f" — {description.iloc[0]}" if len(description) else "")
    with st.expander(label):
        ui.table(columns[["column_name", "data_type", "column_description"]])

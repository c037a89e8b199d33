"""SQL: read-only analyst queries against the marts, confined, with a schema browser."""

import streamlit as st

from dashboards import ui
from dashboards.queries import analyst as q
from dashboards.queries import sandbox

st.title("SQL")
try:
    limits = q.limits()
except ValueError as exc:  # a mistyped CUSTODIA_SQL_* setting: say which
    st.error(f"The SQL page's limits are misconfigured: {exc}", icon=":material/settings:")
    st.stop()
st.caption(
    "One read-only SELECT against the marts (`marts`, unqualified names resolve there) or the "
    "ingestion audit (`audit`). No writes, files, extensions or settings. Each query runs in a "
    f"process of its own. {limits.caption()}"
)

sql = st.text_area(
    "Query",
    key="sql_text",
    height=160,
    value="select facility_id, catalog_number, quantity_on_hand, value_on_hand\n"
    "from rpt_stock_levels\norder by value_on_hand desc",
)
waiting = st.empty()


def _show_position(position: int) -> None:
    waiting.info(
        f"Waiting for a free slot: number {position} in line ({limits.concurrent} analyst "
        "queries run at once).",
        icon=":material/hourglass_top:",
    )


if st.button("Run query", key="sql_run", type="primary", icon=":material/play_arrow:"):
    try:
        outcome = q.run_analyst_query(sql, limits=limits, on_wait=_show_position)
    except q.RefusedQuery as exc:
        outcome = str(exc)
    waiting.empty()
    # Kept until the query text changes, so other reruns do not wipe the answer.
    st.session_state["sql_last"] = (sql, outcome)
    st.session_state.pop("sql_full", None)

last = st.session_state.get("sql_last")
if last and last[0] == sql:
    outcome = last[1]
    if isinstance(outcome, str):
        st.error(outcome, icon=":material/block:")
    else:
        note = f"{outcome.row_count:,} rows in {outcome.seconds * 1000:,.0f} ms"
        if outcome.stopped_by == "rows":
            st.warning(
                f"Result capped at the {limits.rows:,}-row limit: showing the first "
                f"{outcome.row_count:,} rows.",
                icon=":material/content_cut:",
            )
        elif outcome.stopped_by == "bytes":
            st.warning(
                f"Result capped at the {limits.result_mb:g} MB limit: showing the first "
                f"{outcome.row_count:,} rows.",
                icon=":material/content_cut:",
            )
        if outcome.truncated:
            note = f"first {note}"
        if outcome.cut_cells:
            st.info(
                f"{outcome.cut_cells:,} cells longer than {limits.cell_chars:,} characters are "
                "cut for display (they end in …); the full download below holds them whole.",
                icon=":material/short_text:",
            )
        st.caption(note)
        ui.table(outcome.frame, key="sql_result_table")
        shown, full_csv, full_parquet = st.columns(3)
        with shown:
            ui.download_csv(
                outcome.frame, "query_result.csv", key="sql_csv", label="Download shown rows"
            )
        for column, fmt in ((full_csv, "csv"), (full_parquet, "parquet")):
            label = f"Prepare the full result as {fmt.upper() if fmt == 'csv' else 'Parquet'}"
            if column.button(label, key=f"sql_full_{fmt}", icon=":material/download:"):
                try:
                    full = q.download_analyst_query(sql, fmt, limits=limits, on_wait=_show_position)
                except q.RefusedQuery as exc:
                    full = str(exc)
                waiting.empty()
                st.session_state["sql_full"] = (sql, full)
        prepared = st.session_state.get("sql_full")
        if prepared and prepared[0] == sql:
            full = prepared[1]
            if isinstance(full, str):
                st.error(full, icon=":material/block:")
            else:
                href = sandbox.download_url(full.path, st.get_option("server.baseUrlPath"))
                st.markdown(
                    f'<a href="{href}" download="{full.path.name}" id="sql_full_link">'
                    f"Download {full.path.name}</a> ({full.rows:,} rows, "
                    f"{full.nbytes / 1e6:,.1f} MB; kept for an hour)",
                    unsafe_allow_html=True,
                )

st.subheader("Schema browser")
catalog = q.schema_catalog()
for (schema, table), columns in catalog.groupby(["schema_name", "table_name"], sort=True):
    description = columns["table_description"].dropna()
    label = f"{schema}.{table}" + (f" — {description.iloc[0]}" if len(description) else "")
    with st.expander(label):
        ui.table(columns[["column_name", "data_type", "column_description"]])

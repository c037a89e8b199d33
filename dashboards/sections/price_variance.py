"""Finance page section: price variance of the sales ledger against list price."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import altair as alt
import streamlit as st

from dashboards import ui
from dashboards.queries import price_variance as q
from dashboards.sections import older_build_note
from orchestration import settings


def threshold_default() -> float | None:
    """The control's default from $CUSTODIA_PRICE_VARIANCE_PCT; None (after an error on the
    page naming the variable) when the setting is unusable."""
    try:
        return settings.price_variance_threshold_pct()
    except settings.SettingError as exc:
        st.error(f"Price variance: {exc}. Fix the setting and reload the page.")
        return None


@older_build_note("Price variance")
def render(facilities: Sequence[str], month_from: date | None, month_to: date | None) -> None:
    st.subheader("Price variance against list price")
    st.caption(
        "Each sales-ledger line's unit price against the product's list price in force at the "
        "line's instant (`fct_price_variance`; before a product's first version, its first "
        "list price). Negative variance = sold below list. The summary covers the whole ledger "
        "of the selected facilities; the list of lines also honours the months."
    )
    default = threshold_default()
    if default is None:
        return
    c1, c2 = st.columns([1, 2])
    dimension = c1.radio("Group by", list(q.DIMENSIONS), index=2, horizontal=True, key="pv_group")
    threshold = c2.number_input(
        "List lines below list by more than (%)",
        min_value=0.0,
        max_value=100.0,
        value=default,
        step=1.0,
        key="pv_threshold",
        help="Default from CUSTODIA_PRICE_VARIANCE_PCT (10 when unset).",
    )
    grouped = q.summary(dimension, facilities)
    if not ui.empty_note(grouped, "ledger lines"):
        column = q.DIMENSIONS[dimension]
        chart = (
            alt.Chart(grouped)
            .mark_bar()
            .encode(
                x=alt.X(f"{column}:N", title=dimension, sort="y"),
                y=alt.Y("variance_amount:Q", title="Sold minus list ($)"),
                color=alt.condition(
                    "datum.variance_amount < 0", alt.value("#c0392b"), alt.value("#2e86c1")
                ),
                tooltip=[
                    column,
                    "ledger_lines",
                    alt.Tooltip("variance_amount:Q", format="$,.2f"),
                    alt.Tooltip("variance_pct:Q", format=".2f", title="variance %"),
                    "lines_below_list",
                ],
            )
        )
        st.altair_chart(chart, width="stretch")
        ui.table(grouped, key="pv_summary_table")
        ui.download_csv(
            q.summary_rows(facilities), "price_variance_summary.csv", key="pv_summary_csv"
        )
    lines = q.lines_below_list(threshold, facilities, month_from, month_to)
    st.markdown(f"**Lines below list by more than {threshold:g} %:** {len(lines):,}")
    if not ui.empty_note(lines, f"lines below list by more than {threshold:g} %"):
        ui.table(lines, key="pv_lines_table")
        ui.download_csv(lines, "price_variance_lines.csv", key="pv_lines_csv")

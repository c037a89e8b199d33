"""Finance page section: closed months and their restatements."""

from __future__ import annotations

import streamlit as st

from dashboards import ui
from dashboards.queries import restatements as rq


def render(facilities, month_from, month_to) -> None:
    """Closed months (audit.closed_months) and what changed in them since (rpt_restatements)."""
    st.subheader("Restatements of closed months")
    st.caption(
        "`custodia close --month YYYY-MM` freezes a month's figures. Every later build compares "
        "them with the figures above: a figure that moved because of a late or corrected "
        "delivery is listed with the lines delivered after the close. A closed month is never "
        "overwritten."
    )
    closes = rq.closed_months(month_from, month_to)
    if closes.empty:
        st.info("No month in this selection is closed yet.", icon=":material/event_available:")
        return
    ui.table(closes, key="fin_closes_table")
    changed = rq.restatements(facilities, month_from, month_to)
    if changed.empty:
        st.success(
            "The closed months in this selection still stand as closed: nothing delivered "
            "since changed them.",
            icon=":material/task_alt:",
        )
        return
    billed = changed.loc[changed["figure"] == "billed_revenue", "difference"].sum()
    expected = changed.loc[changed["figure"] == "expected_revenue", "difference"].sum()
    c1, c2, c3, _ = st.columns([1, 1, 1, 2])
    c1.metric("Restated figures", ui.units(len(changed)), border=True)
    c2.metric("Billed revenue change", ui.money(billed), border=True)
    c3.metric("Expected revenue change", ui.money(expected), border=True)
    ui.table(changed, key="fin_restatements_table")
    ui.download_csv(changed, "restatements.csv", key="fin_restatements_csv")

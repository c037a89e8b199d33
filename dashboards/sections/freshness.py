"""The dashboard header: "Data as of <newest delivery>, built <time>", and a warning naming the
stale feeds (docs/rules.md, "Freshness"; threshold $CUSTODIA_STALE_AFTER_HOURS, read on every
page run)."""

from __future__ import annotations

import streamlit as st

from dashboards.queries import connection
from dashboards.queries import freshness as q
from orchestration import settings


def header_text() -> tuple[str, list[str]] | None:
    """(the header line, the stale feeds' descriptions); None when there is nothing to say."""
    hours = settings.stale_after_hours()  # SettingError: shown by render_header
    feeds = q.feeds(hours)
    delivered = [f.newest_delivery_at for f in feeds if f.newest_delivery_at is not None]
    if not delivered:
        return "No delivery loaded yet.", [f.describe() for f in feeds]
    built = q.built_at()
    line = (
        f"Data as of **{max(delivered):%Y-%m-%d %H:%M} UTC** (newest delivery), "
        f"built **{built:%Y-%m-%d %H:%M} UTC**"
    )
    try:
        record = q.newest_record().get("as_of")
    except connection.WarehouseIncomplete:
        record = None  # a warehouse built before dim_reference_instant existed
    if record is not None:
        line += f"; newest record in the data {record:%Y-%m-%d %H:%M}"
    stale = [f.describe() for f in feeds if f.is_stale]
    return line, stale


def render_header() -> None:
    try:
        text = header_text()
    except settings.SettingError as exc:
        st.error(f"Data freshness: {exc}.", icon=":material/settings_alert:")
        return
    except connection.WarehouseIncomplete as exc:  # an older warehouse: the page still answers
        st.caption(f"Data freshness unavailable: {exc}")
        return
    if text is None:
        return
    line, stale = text
    st.caption(line, help="docs/rules.md, Freshness")
    if stale:
        hours = settings.stale_after_hours()
        st.warning(
            f"Stale feeds (no delivery in the last {hours:g} h; CUSTODIA_STALE_AFTER_HOURS): "
            + "; ".join(stale),
            icon=":material/schedule:",
        )

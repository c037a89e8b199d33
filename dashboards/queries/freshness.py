"""Data freshness for the dashboard header: newest delivery per feed (audit.ingested_files,
the same SQL as the Dagster checks, orchestration/freshness.py), the span of the data
(marts.dim_reference_instant) and when the warehouse was built."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd

from dashboards.queries import connection
from orchestration import freshness


def feeds(stale_after_hours: float, now: datetime | None = None) -> list[freshness.FeedFreshness]:
    """Every feed of the contract with its newest delivery, judged at `now` (default: the
    clock, UTC)."""
    rows = connection.query(freshness.NEWEST_DELIVERIES_SQL)
    newest = {
        r.entity: pd.Timestamp(r.newest_delivery_at).to_pydatetime()
        for r in rows.itertuples()
        if not pd.isna(r.newest_delivery_at)
    }
    when = now or datetime.now(UTC).replace(tzinfo=None)
    return freshness.judge(newest, when, stale_after_hours)


def built_at() -> pd.Timestamp:
    """When the warehouse file was published (UTC)."""
    return connection.build_info()["published_at"]


def newest_record() -> dict[str, Any]:
    """The reference instant (newest business timestamp) of the build."""
    return connection.scalar_row("select as_of from marts.dim_reference_instant")

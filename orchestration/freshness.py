"""Feed freshness: when each feed (export entity) last delivered, and whether it is stale.

For a finance user (docs/rules.md, "Freshness"):

- a feed's **newest delivery** is the latest ``ingested_at`` (UTC) of one of its files that
  ingestion took (status LOADED or LOADED_WITH_REJECTS; a FAILED file delivered nothing usable).
  The dashboard's "data as of" is the newest delivery over all feeds.
- a feed is **stale** when its newest delivery is older than ``settings.stale_after_hours()``
  (``$CUSTODIA_STALE_AFTER_HOURS``, default 36: a daily export plus half a day of slack) at the
  moment of asking, or when it never delivered at all.

One SQL text (NEWEST_DELIVERIES_SQL) serves the Dagster checks and the dashboard header; the
judgement is the pure function ``judge``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from orchestration.contract import ENTITY_NAMES

# entity -> newest delivery (null when it never delivered a usable file)
NEWEST_DELIVERIES_SQL = """
    select entity, max(ingested_at) as newest_delivery_at, count(*) as files
    from audit.ingested_files
    where status in ('LOADED', 'LOADED_WITH_REJECTS')
    group by entity
"""


@dataclass(frozen=True)
class FeedFreshness:
    entity: str
    newest_delivery_at: datetime | None
    age: timedelta | None
    is_stale: bool

    def describe(self) -> str:
        if self.newest_delivery_at is None:
            return f"{self.entity}: never delivered"
        hours = self.age.total_seconds() / 3600 if self.age is not None else 0.0
        return (
            f"{self.entity}: newest delivery {self.newest_delivery_at:%Y-%m-%d %H:%M} UTC, "
            f"{hours:,.1f} h ago"
        )


def judge(
    newest: Mapping[str, datetime | None],
    now: datetime,
    stale_after_hours: float,
    entities: Iterable[str] = ENTITY_NAMES,
) -> list[FeedFreshness]:
    """Freshness of every feed of the contract at `now` (naive UTC), in contract order."""
    limit = timedelta(hours=stale_after_hours)
    out = []
    for entity in entities:
        at = newest.get(entity)
        if at is None:
            out.append(FeedFreshness(entity, None, None, True))
            continue
        age = now - at
        out.append(FeedFreshness(entity, at, age, age > limit))
    return out

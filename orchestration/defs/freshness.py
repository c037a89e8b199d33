"""Freshness checks on the ingest assets: one ``delivery_fresh`` check per ``raw/<entity>``.

A custom asset check rather than ``dg.build_last_update_freshness_checks``: Dagster's
freshness checks (superseded by freshness policies since 1.12) judge when an asset was last
*materialized*, and ``raw/<entity>`` materializes on every run whether or not a new export file
arrived. What a finance user needs is when the feed last *delivered*, which only
``audit.ingested_files`` knows (orchestration/freshness.py). Severity WARN: stale data is still
correct as of its delivery, and the dashboard header says so. The threshold is read when the
check runs (``$CUSTODIA_STALE_AFTER_HOURS``); an unusable value fails the check with the
variable named.
"""

from datetime import UTC, datetime

import dagster as dg

from orchestration import freshness, settings
from orchestration.contract import ENTITIES
from orchestration.defs.ingest import raw_key
from orchestration.ingest import ensure_warehouse
from orchestration.resources import WarehouseResource

FRESHNESS_CHECK = "delivery_fresh"


def build_freshness_check(entity: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=raw_key(entity),
        name=FRESHNESS_CHECK,
        description=(
            "The feed delivered a usable file within $CUSTODIA_STALE_AFTER_HOURS hours "
            "(default 36) of the check (WARN)."
        ),
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        try:
            hours = settings.stale_after_hours()
        except settings.SettingError as exc:
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                description=str(exc),
                metadata={"error": str(exc)},
            )
        with warehouse.get_connection() as con:
            ensure_warehouse(con)  # a check run before any ingest sees empty audit tables
            rows = con.execute(freshness.NEWEST_DELIVERIES_SQL).fetchall()
        newest = {r[0]: r[1] for r in rows}
        now = datetime.now(UTC).replace(tzinfo=None)
        (feed,) = freshness.judge(newest, now, hours, entities=[entity])
        return dg.AssetCheckResult(
            passed=not feed.is_stale,
            severity=dg.AssetCheckSeverity.WARN,
            description=feed.describe(),
            metadata={
                "newest_delivery_at": str(feed.newest_delivery_at or "never"),
                "age_hours": round(feed.age.total_seconds() / 3600, 2) if feed.age else None,
                "stale_after_hours": hours,
            },
        )

    return _check


# Module-level definitions, picked up by the defs-folder loader (orchestration/definitions.py).
freshness_checks = [build_freshness_check(e) for e in ENTITIES]

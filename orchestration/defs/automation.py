"""When the pipeline runs by itself: a landing-folder sensor and a daily schedule.

Both start STOPPED (``default_status``): a fresh deployment does nothing until an operator
switches them on in the Dagster UI (Automation) or with
``dagster sensor start landing_folder_sensor`` / ``dagster schedule start daily_build``.

- ``landing_folder_sensor`` lists the landing folder every 60 s (names, sizes and modification
  times only, no reading or hashing) and, when a delivery file is new or changed since the last
  evaluation, requests one run of the ingest assets and everything downstream of them. Files
  whose bytes did not change are skipped by ingestion itself (path + sha256), so a touched but
  unchanged file costs a hash and nothing else.
- ``daily_build`` materializes every asset (ingest, then the dbt models) at 05:00 UTC, so the
  marts are rebuilt daily even when the sensor is off.
- ``weekly_full_check`` does the same on Sundays at 06:00 UTC with every data test over every
  row: incremental builds test only the rows they wrote in the incremental models
  (``dbt_project/macros/test_scope.sql``).
"""

import hashlib
import json

import dagster as dg

from orchestration.contract import ENTITIES
from orchestration.ingest import discover
from orchestration.resources import LandingResource

INGEST_AND_DOWNSTREAM = dg.AssetSelection.groups("ingest").downstream()


def landing_snapshot(landing) -> dict[str, str]:
    """``{relative path: "size:mtime_ns"}`` of every delivery file under ``landing``."""
    snap = {}
    for entity in ENTITIES:
        for d in discover(landing, entity):
            st = d.path.stat()
            snap[d.source_file] = f"{st.st_size}:{st.st_mtime_ns}"
    return snap


def changed_files(previous: dict[str, str], current: dict[str, str]) -> list[str]:
    """Files new in ``current`` or whose size/mtime differ from ``previous`` (sorted)."""
    return sorted(path for path, stamp in current.items() if previous.get(path) != stamp)


@dg.sensor(
    name="landing_folder_sensor",
    target=INGEST_AND_DOWNSTREAM,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="New or changed files in the landing folder → ingest and rebuild downstream.",
)
def landing_folder_sensor(context: dg.SensorEvaluationContext, landing: LandingResource):
    folder = landing.folder()
    if not folder.is_dir():
        return dg.SkipReason(f"landing folder {folder} does not exist")
    previous = json.loads(context.cursor) if context.cursor else {}
    current = landing_snapshot(folder)
    changed = changed_files(previous, current)
    if not changed:
        return dg.SkipReason(f"no new or changed files in {folder}")
    digest = hashlib.sha256(
        json.dumps({p: current[p] for p in changed}, sort_keys=True).encode()
    ).hexdigest()[:16]
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"landing-{digest}",
                tags={"custodia/changed_files": str(len(changed))},
            )
        ],
        cursor=json.dumps(current, sort_keys=True),
    )


daily_build = dg.ScheduleDefinition(
    name="daily_build",
    cron_schedule="0 5 * * *",
    execution_timezone="UTC",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Ingest new deliveries and rebuild every model, daily at 05:00 UTC.",
)


weekly_full_check = dg.ScheduleDefinition(
    name="weekly_full_check",
    cron_schedule="0 6 * * 0",
    execution_timezone="UTC",
    target=dg.AssetSelection.all(),
    run_config={"ops": {"custodia_dbt_models": {"config": {"full_check": True}}}},
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every Sunday at 06:00 UTC: ingest, build, and run every data test over every row.",
)

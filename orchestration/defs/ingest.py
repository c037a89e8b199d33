"""Ingest assets ``raw/<entity>`` (group ``ingest``) and their checks, one per contract entity.

The assets are thin: each calls ``orchestration.ingest.ingest_entity`` for its entity and
reports what happened. Checks per entity:

- ``nothing_rejected`` (severity WARN, emitted by the materialization itself): fails when a file
  taken in this run had rows rejected by the entity's pandera schema or was FAILED as a whole.
  WARN, not ERROR, because nothing is lost: rejected rows and failed files are kept in
  ``audit.rejected_rows`` / ``audit.ingested_files`` with their reasons, and the good rows of
  the delivery are usable. The metadata carries the counts and the first reasons.
- ``rows_conserved`` (severity ERROR, standalone, reads the warehouse): for every delivery of
  the entity, rows_read = rows_loaded + rows_rejected, and the rows present in ``raw.<entity>``
  and ``audit.rejected_rows`` match those counts. A failure means rows were lost or duplicated.
"""

import dagster as dg

from orchestration.contract import ENTITIES, LINEAGE_COLUMNS, Entity
from orchestration.ingest import (
    FileResult,
    conservation_violations,
    ensure_warehouse,
    ingest_entity,
)
from orchestration.resources import LandingResource, WarehouseResource

GROUP = "ingest"
REJECTS_CHECK = "nothing_rejected"
CONSERVATION_CHECK = "rows_conserved"
SHOWN = 10  # files / reasons listed in metadata


def raw_key(entity: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", entity])


def _column_schema(entity: Entity) -> dg.TableSchema:
    cols = [
        dg.TableColumn(c.name, c.duckdb_type, description=c.description or None)
        for c in entity.columns
    ]
    cols += [dg.TableColumn(n, t, description="lineage") for n, t in LINEAGE_COLUMNS.items()]
    return dg.TableSchema(columns=cols)


def _files_table(results: list[FileResult]) -> str:
    lines = [
        "| file | status | read | loaded | rejected | note |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in results[:SHOWN]:
        note = r.error or (
            f"extra columns: {', '.join(r.extra_columns)}" if r.extra_columns else ""
        )
        lines.append(
            f"| {r.source_file} | {r.status} | {r.rows_read or 0} | {r.rows_loaded or 0} "
            f"| {r.rows_rejected or 0} | {note.replace('|', '/')} |"
        )
    if len(results) > SHOWN:
        lines.append(f"| … {len(results) - SHOWN} more | | | | | |")
    return "\n".join(lines)


def _rejects_check(entity: str, new: list[FileResult]) -> dg.AssetCheckResult:
    rejected = sum(r.rows_rejected or 0 for r in new)
    failed = [r for r in new if r.status == "FAILED"]
    reasons = [f"{r.source_file} {reason}" for r in new for reason in r.first_reasons][:SHOWN]
    errors = [f"{r.source_file}: {r.error}" for r in failed][:SHOWN]
    return dg.AssetCheckResult(
        check_name=REJECTS_CHECK,
        asset_key=raw_key(entity),
        passed=rejected == 0 and not failed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "files_checked": len(new),
            "rows_rejected": rejected,
            "files_failed": len(failed),
            "first_reasons": dg.MetadataValue.md("\n".join(f"- {x}" for x in reasons) or "none"),
            "failed_files": dg.MetadataValue.md("\n".join(f"- {x}" for x in errors) or "none"),
        },
        description=(
            f"{rejected} row(s) rejected and {len(failed)} file(s) failed in this run; "
            "see audit.rejected_rows and audit.ingested_files"
        ),
    )


def build_raw_asset(entity: Entity) -> dg.AssetsDefinition:
    key = raw_key(entity.name)

    @dg.asset(
        key=key,
        group_name=GROUP,
        kinds={"duckdb", "polars"},
        description=(
            f"{entity.description} Appended from new files in <landing>/{entity.name}/, "
            "validated against the export contract (rejects go to audit.rejected_rows)."
        ),
        metadata={"dagster/column_schema": _column_schema(entity), "key": ", ".join(entity.key)},
        check_specs=[
            dg.AssetCheckSpec(
                REJECTS_CHECK,
                asset=key,
                description="No row rejected and no file failed in this run (WARN).",
            )
        ],
    )
    def _raw(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        landing: LandingResource,
    ) -> dg.MaterializeResult:
        folder = landing.folder()
        with warehouse.get_connection() as con:
            results = ingest_entity(con, folder, entity.name)
            total = con.execute(f"select count(*) from raw.{entity.name}").fetchall()[0][0]
        new = [r for r in results if r.is_new]
        for r in new:
            if r.status == "FAILED":
                context.log.warning(f"{r.source_file}: FAILED: {r.error}")
            elif r.rows_rejected:
                context.log.warning(f"{r.source_file}: {r.rows_rejected} row(s) rejected")
        extra = sorted({c for r in new for c in r.extra_columns})
        return dg.MaterializeResult(
            metadata={
                "landing": str(folder / entity.name),
                "files_new": len(new),
                "files_unchanged": len(results) - len(new),
                "files_failed": sum(r.status == "FAILED" for r in new),
                "rows_read": sum(r.rows_read or 0 for r in new),
                "rows_loaded": sum(r.rows_loaded or 0 for r in new),
                "rows_rejected": sum(r.rows_rejected or 0 for r in new),
                "extra_columns": ", ".join(extra) or "none",
                "files": dg.MetadataValue.md(_files_table(new) if new else "no new files"),
                "dagster/row_count": total,
            },
            check_results=[_rejects_check(entity.name, new)],
        )

    return _raw


def build_conservation_check(entity: Entity) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=raw_key(entity.name),
        name=CONSERVATION_CHECK,
        description=(
            "Every delivery: rows_read = rows_loaded + rows_rejected, and raw/audit tables hold "
            "exactly those rows (ERROR)."
        ),
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.get_connection() as con:
            ensure_warehouse(con)  # idempotent; a check run before any ingest sees empty tables
            files = con.execute(
                "select count(*) from audit.ingested_files where entity = ?", [entity.name]
            ).fetchall()[0][0]
            bad = conservation_violations(con, entity.name)
        return dg.AssetCheckResult(
            passed=not bad,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "files_checked": files,
                "files_violating": len(bad),
                "violations": dg.MetadataValue.json(bad[:SHOWN]),
            },
        )

    return _check


# Module-level definitions, picked up by the defs-folder loader (orchestration/definitions.py).
raw_assets = [build_raw_asset(e) for e in ENTITIES.values()]
conservation_checks = [build_conservation_check(e) for e in ENTITIES.values()]

"""Ingestion: landing folder files → validated ``raw.<entity>`` rows and ``audit.*`` records.

Plain Python, no Dagster: the Dagster assets (``orchestration.defs.ingest``), the CLI and the
benchmarks all call these functions.

- ``ingest_entity(con, landing, entity) -> list[FileResult]``: one entity's new files.
- ``ingest_landing(con, landing, entities=None) -> dict[str, list[FileResult]]``: all entities.
- ``ingest_into(warehouse, landing, entities=None)``: the same, opening the DuckDB file.
- ``ensure_warehouse(con)``: create the ``raw`` and ``audit`` schemas and tables.
- ``text_schema(entity)``: the pandera (polars) schema an entity's text is validated with.
"""

from orchestration.ingest.audit import conservation_violations, ensure_warehouse
from orchestration.ingest.loader import (
    FileResult,
    ingest_entity,
    ingest_file,
    ingest_into,
    ingest_landing,
)
from orchestration.ingest.readers import FileFault, discover
from orchestration.ingest.schemas import text_schema
from orchestration.ingest.validate import validate

__all__ = [
    "FileFault",
    "FileResult",
    "conservation_violations",
    "discover",
    "ensure_warehouse",
    "ingest_entity",
    "ingest_file",
    "ingest_into",
    "ingest_landing",
    "text_schema",
    "validate",
]

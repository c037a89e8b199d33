"""Ingestion: landing folder files → validated ``raw.<entity>`` rows and ``audit.*`` records.

Plain Python, no Dagster: the Dagster assets (``orchestration.defs.ingest``), the CLI and the
benchmarks all call these functions.

- ``ingest_entity(con, landing, entity) -> list[FileResult]``: one entity's new files.
- ``ingest_landing(con, landing, entities=None) -> dict[str, list[FileResult]]``: all entities.
- ``ingest_into(warehouse, landing, entities=None)``: the same, opening the DuckDB file.
- ``ensure_warehouse(con)``: create the ``raw`` and ``audit`` schemas and tables.

The pandera (polars) schema an entity's text is validated with is
``orchestration.ingest.schemas.text_schema(entity)``, and the validation itself
``orchestration.ingest.validate.validate``: not imported here, so that importing the package
(every build and the Dagster definitions do) does not import pandera.
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
]

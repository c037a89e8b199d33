"""Dagster resources, defined once and bound in ``orchestration/definitions.py``.

Both resources resolve their path when used, never at import: an unset ``path`` means the
environment (``$CUSTODIA_WAREHOUSE`` / ``$CUSTODIA_LANDING``, see ``orchestration.settings``).
Override them per run, e.g. the CLI's ``--data``::

    run_config = {"resources": {"landing": {"config": {"path": "/some/landing"}}}}
    dg.materialize(assets, resources={"landing": LandingResource(path="/some/landing"), ...})
"""

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import Field

from orchestration import settings


def duckdb_config(database: Path | str | None = None) -> dict[str, str | int | bool]:
    """Settings of every writing connection (ingest, build), the same as dbt's profile:
    2 threads and a memory limit (``$CUSTODIA_DUCKDB_MEMORY``, default 3GB); beyond it DuckDB
    spills to its default ``<warehouse>.tmp/`` directory."""
    del database  # the temp directory is DuckDB's default beside the file
    return {
        "threads": 2,
        "memory_limit": os.environ.get("CUSTODIA_DUCKDB_MEMORY") or "3GB",
        "preserve_insertion_order": False,
    }


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file that ingestion writes and dbt builds on."""

    path: str | None = Field(
        default=None,
        description=f"DuckDB file; empty means ${settings.WAREHOUSE_ENV} (read at run time).",
    )

    def database(self) -> Path:
        return Path(self.path).expanduser().resolve() if self.path else settings.warehouse_path()

    lock_timeout_s: float = Field(
        default=120.0,
        description="How long to wait for another process's write lock on the file.",
    )

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection, closed afterwards.

        DuckDB allows one writing process per file: while another process holds it, wait and
        retry (up to ``lock_timeout_s``) instead of failing the step.
        """
        db = self.database()
        db.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout_s
        while True:
            try:
                con = duckdb.connect(str(db), config=duckdb_config(db))
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        try:
            yield con
        finally:
            con.close()


class LandingResource(dg.ConfigurableResource):
    """The landing folder of export deliveries (``<landing>/<entity>/<file>``)."""

    path: str | None = Field(
        default=None,
        description=f"Landing folder; empty means ${settings.LANDING_ENV} (read at run time).",
    )

    def folder(self) -> Path:
        return Path(self.path).expanduser().resolve() if self.path else settings.landing_path()


def build_resources(
    *, warehouse: Path | str | None = None, landing: Path | str | None = None
) -> dict[str, dg.ConfigurableResource]:
    """The resources the code location binds; pass paths to override (tests, the CLI)."""
    return {
        "warehouse": WarehouseResource(path=str(warehouse) if warehouse else None),
        "landing": LandingResource(path=str(landing) if landing else None),
    }

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
from contextlib import contextmanager, suppress
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import Field, PrivateAttr

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

    # Inside a run, one connection serves every step that asks (the run's steps execute one
    # after another in this process, ``in_process_executor``): opening the warehouse file
    # costs about 25 ms, and a build's ingest assets and checks asked 54 times. Outside a run
    # (a direct call) each connection is closed afterwards, as before.
    _in_run: bool = PrivateAttr(default=False)
    _shared: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        del context
        self._in_run = True

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        del context
        self.release()

    def release(self) -> None:
        """Close the run's shared connection, if open, so that another process may write the
        file (the dbt step calls it before starting dbt); the next step that asks reopens."""
        if self._shared is not None:
            self._shared.close()
            self._shared = None

    def _connect(self) -> duckdb.DuckDBPyConnection:
        db = self.database()
        db.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout_s
        while True:
            try:
                return duckdb.connect(str(db), config=duckdb_config(db))
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection: the run's shared one inside a run, else a new one closed
        afterwards.

        DuckDB allows one writing process per file: while another process holds it, wait and
        retry (up to ``lock_timeout_s``) instead of failing the step.
        """
        if not self._in_run:
            con = self._connect()
            try:
                yield con
            finally:
                con.close()
            return
        if self._shared is None:
            self._shared = self._connect()
        try:
            yield self._shared
        except BaseException:
            # a step that failed half-way must not leave its transaction to the next step
            with suppress(duckdb.Error):
                self._shared.rollback()
            raise


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

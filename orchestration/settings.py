"""Runtime settings, read from the environment when asked for (never at import time)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

WAREHOUSE_ENV = "CUSTODIA_WAREHOUSE"
LANDING_ENV = "CUSTODIA_LANDING"

DEFAULT_WAREHOUSE = PROJECT_ROOT / "data" / "warehouse" / "custodia.duckdb"
DEFAULT_LANDING = PROJECT_ROOT / "data" / "sample"


def warehouse_path() -> Path:
    """The DuckDB file readers see (``$CUSTODIA_WAREHOUSE``)."""
    return Path(os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE).expanduser().resolve()


def landing_path() -> Path:
    """The landing folder of export deliveries (``$CUSTODIA_LANDING``)."""
    return Path(os.environ.get(LANDING_ENV) or DEFAULT_LANDING).expanduser().resolve()


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a block, then restore them."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

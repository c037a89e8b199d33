"""Runtime settings, read from the environment when asked for (never at import time)."""

from __future__ import annotations

import os
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

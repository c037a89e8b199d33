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


# --- finance settings (read when asked for; a bad value is a clear error naming the variable) --

PRICE_VARIANCE_THRESHOLD_ENV = "CUSTODIA_PRICE_VARIANCE_PCT"
DEFAULT_PRICE_VARIANCE_THRESHOLD_PCT = 10.0
STALE_AFTER_HOURS_ENV = "CUSTODIA_STALE_AFTER_HOURS"
DEFAULT_STALE_AFTER_HOURS = 36.0


class SettingError(ValueError):
    """An environment setting holds a value Custodia cannot use."""


def _number_setting(name: str, default: float, low: float, high: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        expected = f"expected {low:g} to {high:g}"
        raise SettingError(f"{name}={raw!r} is not a number ({expected})") from None
    if not (low <= value <= high):  # also refuses nan
        raise SettingError(f"{name}={raw!r} is out of range (expected {low:g} to {high:g})")
    return value


def price_variance_threshold_pct() -> float:
    """Default of the finance page's "below list by more than" control, in percent
    (``$CUSTODIA_PRICE_VARIANCE_PCT``, 0 to 100, default 10)."""
    return _number_setting(
        PRICE_VARIANCE_THRESHOLD_ENV, DEFAULT_PRICE_VARIANCE_THRESHOLD_PCT, 0.0, 100.0
    )


def stale_after_hours() -> float:
    """A feed is stale when its newest delivery is older than this many hours
    (``$CUSTODIA_STALE_AFTER_HOURS``, above 0, default 36)."""
    return _number_setting(STALE_AFTER_HOURS_ENV, DEFAULT_STALE_AFTER_HOURS, 0.001, 24.0 * 3650)

"""Shared test setup: no telemetry, an ephemeral Dagster instance, one sample warehouse."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from streamlit import config as streamlit_config

from orchestration import settings

os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
os.environ["DAGSTER_DISABLE_TELEMETRY"] = "1"
os.environ["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
# AppTest runs the pages as `custodia dashboard` does (orchestration/cli.py STREAMLIT_OPTIONS):
# no magic, whose ast.parse of every page races in CPython 3.11 ("AST constructor recursion
# depth mismatch", seen once in `make test`)
streamlit_config.set_option("runner.magicEnabled", False)
# Tests run on an ephemeral Dagster instance, never on the developer's .dagster_home.
os.environ.pop("DAGSTER_HOME", None)

SAMPLE = settings.PROJECT_ROOT / "data" / "sample"
# the sample's late delivery and the month `make run` closes before it (Makefile)
SAMPLE_LATE = settings.PROJECT_ROOT / "data" / "sample_late"
SAMPLE_CLOSE_MONTH = "2024-07"

# Hypothesis profiles: `bounded` (the default, `make test`) and `fuzz` (`make fuzz`, many more
# examples). Tests whose examples are expensive (a real build each) size themselves with
# `histories.budget(bounded, fuzz)`; the others take max_examples from the profile.
hypothesis_settings.register_profile(
    "bounded", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.register_profile(
    "fuzz",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "bounded"))


@pytest.fixture(autouse=True)
def _dashboard_connection_closed():
    """Each test starts and ends without the dashboard's kept warehouse connection
    (``dashboards.queries.connection``): a test may open the file with other settings, which
    DuckDB refuses while a connection with different settings is open in the process."""
    _close_kept_connection()
    yield
    _close_kept_connection()


def _close_kept_connection() -> None:
    from dbt_support import close_dashboard_connection

    close_dashboard_connection()


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory) -> Path:
    """The bundled sample built once by `custodia build` (ingest + dbt) into a temp file."""
    from orchestration.build import run_build

    path = tmp_path_factory.mktemp("sample_warehouse") / "custodia.duckdb"
    report = run_build(SAMPLE, path, echo=lambda _line: None)
    assert report.ok, [f for s in report.stages for f in s.failures]
    return path


@pytest.fixture(scope="session")
def restated_warehouse(sample_warehouse, tmp_path_factory) -> Path:
    """The sample as `make run` leaves it: built, SAMPLE_CLOSE_MONTH closed by the real
    `custodia close`, then the late delivery (data/sample_late) built on top."""
    import shutil

    from orchestration.build import run_build

    path = tmp_path_factory.mktemp("restated_warehouse") / "custodia.duckdb"
    shutil.copy2(sample_warehouse, path)
    closed = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "close", "--month", SAMPLE_CLOSE_MONTH,
         "--warehouse", str(path), "--by", "finance-test"],
        capture_output=True, text=True, cwd=settings.PROJECT_ROOT, timeout=300,
    )  # fmt: skip
    assert closed.returncode == 0, closed.stdout + closed.stderr
    report = run_build(SAMPLE_LATE, path, echo=lambda _line: None)
    assert report.ok, [f for s in report.stages for f in s.failures]
    return path

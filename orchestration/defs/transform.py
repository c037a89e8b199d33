"""dbt models and seeds as Dagster assets (groups ``staging``, ``intermediate``, ``marts``,
``seeds``).

All naming policy lives in :class:`CustodiaDbtTranslator`: the dbt source ``raw`` maps onto the
ingest assets ``["raw", <entity>]`` (so the dbt models depend on ingestion with no glue), every
model gets the key ``[<layer>, <model>]`` and the group of its folder, every seed (reference
data in ``dbt_project/seeds``, schema ``seeds``) the key ``["seeds", <seed>]`` and the group
``seeds``, and dbt data tests become asset checks. The manifest is prepared when the
definitions load (``dbt parse``) if it is missing or older than the project files, so a clean
clone works without a prior dbt run.

The dbt CLI resource is bound here under the key ``dbt``; the warehouse file dbt builds is the
one the ``warehouse`` resource resolves at run time (``$CUSTODIA_WAREHOUSE`` unless
overridden), handed to dbt's committed ``profiles.yml`` through that same variable.
"""

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from orchestration import settings
from orchestration.resources import WarehouseResource

RAW_SOURCE = "raw"
LAYERS = ("staging", "intermediate", "marts")
SEEDS = "seeds"  # the seeds' folder, schema, key prefix and group
# the files whose change makes a parsed manifest stale
PROJECT_INPUTS = ("dbt_project.yml", "profiles.yml", "models", "seeds", "macros", "tests")


class CustodiaDbtTranslator(DagsterDbtTranslator):
    """Asset keys, groups and checks of the dbt project, in one place."""

    def __init__(self) -> None:
        super().__init__(
            settings=DagsterDbtTranslatorSettings(
                enable_asset_checks=True,
                enable_source_tests_as_checks=False,
            )
        )

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            if dbt_resource_props["source_name"] == RAW_SOURCE:
                return dg.AssetKey([RAW_SOURCE, dbt_resource_props["name"]])
            return super().get_asset_key(dbt_resource_props)
        folder = self.folder_of(dbt_resource_props)
        if folder:
            return dg.AssetKey([folder, dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return self.folder_of(dbt_resource_props) or super().get_group_name(dbt_resource_props)

    @staticmethod
    def folder_of(dbt_resource_props: Mapping[str, Any]) -> str | None:
        """The folder a node's key and group come from: ``seeds`` for a seed, else the
        model's layer folder (None elsewhere)."""
        if dbt_resource_props["resource_type"] == "seed":
            return SEEDS
        return layer_of(dbt_resource_props.get("fqn", ()))


def layer_of(fqn: Sequence[str]) -> str | None:
    """The layer folder of a dbt node from its fqn (``[project, folder, ..., name]``)."""
    folders = list(fqn)[1:-1]
    return folders[0] if folders and folders[0] in LAYERS else None


def manifest_is_stale(project_dir: Path, manifest_path: Path) -> bool:
    """True when the manifest is missing or older than any file of the dbt project."""
    if not manifest_path.exists():
        return True
    built = manifest_path.stat().st_mtime
    for name in PROJECT_INPUTS:
        path = project_dir / name
        files = [path] if path.is_file() else (p for p in path.rglob("*") if p.is_file())
        if any(f.stat().st_mtime > built for f in files):
            return True
    return False


class DbtBuildConfig(dg.Config):
    """Run config of the dbt assets (op ``custodia_dbt_models``)."""

    full_refresh: bool = False  # rebuild incremental models from every raw row
    full_check: bool = False  # run every data test over every row (macros/test_scope.sql)
    target: str = "dev"  # the profiles.yml target: dev (DuckDB) or spark
    unit_tests: bool = False  # also run the dbt unit tests (the Spark tests use it)


def dbt_build_args(
    full_refresh: bool = False,
    full_check: bool = False,
    target: str = "dev",
    unit_tests: bool = False,
) -> list[str]:
    """The dbt command each run issues; dagster-dbt adds the selection of the run.

    Incremental models take only new deliveries unless ``full_refresh`` (``custodia build
    --full-refresh``). dbt unit tests are left out: their inputs are fixed rows, not the
    deliveries, so they say nothing new on a production build (dbt's own advice); ``make
    test`` runs them (tests/test_dbt_build.py builds with them and checks they all ran).
    Data tests (the asset checks) run on every build; ``build`` also loads the seeds
    (reference data such as the exception codes), so every build carries the committed CSVs.
    On an incremental build the tests of incremental models read only the rows the build wrote
    (``macros/test_scope.sql``); ``full_check`` (``custodia build --full-check``, the weekly
    schedule) and ``full_refresh`` run every test over every row.
    ``target`` names the profiles.yml target (``spark`` for ``custodia build --engine spark``);
    ``unit_tests`` keeps the unit tests in the run (the Spark tests check them on Spark).
    """
    args = ["build"] if unit_tests else ["build", "--exclude-resource-type", "unit_test"]
    if target != "dev":
        args += ["--target", target]
    if full_check:
        args += ["--vars", "{custodia_test_scope: all}"]
    return [*args, "--full-refresh"] if full_refresh else args


def dbt_executable() -> str:
    """The dbt of this Python environment (the venv need not be on PATH), else PATH's."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


class CustodiaDbtCliResource(DbtCliResource):
    """dagster-dbt's CLI resource without two start-up costs this project does not use.

    Before every invocation dagster-dbt runs ``dbt --version`` in a subprocess (to tell dbt
    Core from the Fusion engine) and opens a dbt adapter in-process with the project's macros
    (only ``fetch_column_metadata`` / ``fetch_row_counts`` use it). When the executable is this
    environment's own dbt, its version is the imported ``dbt-core``'s; and no adapter is
    opened (dagster-dbt accepts none).
    """

    @cached_property
    def _cli_version(self):
        if Path(self.dbt_executable) == Path(sys.executable).parent / "dbt":
            from dbt.version import __version__
            from packaging import version

            return version.parse(__version__)
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        del args


def custodia_dbt_project() -> DbtProject:
    return DbtProject(
        project_dir=settings.DBT_PROJECT_DIR,
        profiles_dir=settings.DBT_PROJECT_DIR,
    )


def prepared_manifest(project: DbtProject) -> Path:
    """Parse the project if its manifest is missing or stale; return the manifest path."""
    if manifest_is_stale(Path(project.project_dir), Path(project.manifest_path)):
        env = {settings.WAREHOUSE_ENV: str(settings.warehouse_path())}
        with settings.environment(env):
            (
                CustodiaDbtCliResource(
                    project_dir=str(project.project_dir),
                    profiles_dir=str(project.project_dir),
                    dbt_executable=dbt_executable(),
                )
                .cli(["parse", "--quiet"], target_path=Path(project.target_path))
                .wait()
            )
    return Path(project.manifest_path)


def build_dbt_assets(project: DbtProject) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=prepared_manifest(project),
        project=project,
        dagster_dbt_translator=CustodiaDbtTranslator(),
        name="custodia_dbt_models",
    )
    def custodia_dbt_models(
        context: dg.AssetExecutionContext,
        dbt: DbtCliResource,
        warehouse: WarehouseResource,
        config: DbtBuildConfig,
    ):
        # dbt writes the file from its own process: the run's shared connection (ingest steps
        # of the same run) is closed first. dbt's profiles.yml reads the warehouse file from
        # $CUSTODIA_WAREHOUSE: hand it the file the warehouse resource resolves for this run.
        warehouse.release()
        with settings.environment({settings.WAREHOUSE_ENV: str(warehouse.database())}):
            args = dbt_build_args(
                config.full_refresh, config.full_check, config.target, config.unit_tests
            )
            invocation = dbt.cli(args, context=context)
        yield from invocation.stream()
        keep_run_state(
            Path(invocation.target_path), Path(project.project_dir) / project.target_path
        )

    return custodia_dbt_models


RUN_TARGETS_KEPT = 5


def keep_run_state(run_target: Path, project_target: Path, keep: int = RUN_TARGETS_KEPT) -> None:
    """After a dbt run: hand its parse state to the next run, and prune old run folders.

    dagster-dbt gives each run its own target folder and seeds it with the project target's
    ``partial_parse.msgpack``, but never copies the run's own back. Copying it back (atomically)
    lets the next build of the same warehouse parse partially instead of fully (about 2.5 s
    of every build). Run folders beyond the ``keep`` newest are removed, so daily runs do not
    pile up manifests on disk.
    """
    state = run_target / "partial_parse.msgpack"
    if state.exists():
        tmp = project_target / ".partial_parse.msgpack.tmp"
        shutil.copyfile(state, tmp)
        os.replace(tmp, project_target / "partial_parse.msgpack")
    runs = sorted(
        (p for p in project_target.glob("custodia_dbt_models-*") if p.is_dir()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in runs[keep:]:
        if old != run_target:
            shutil.rmtree(old, ignore_errors=True)


@dg.definitions
def defs() -> dg.Definitions:
    project = custodia_dbt_project()
    return dg.Definitions(
        assets=[build_dbt_assets(project)],
        resources={
            "dbt": CustodiaDbtCliResource(
                project_dir=project,
                profiles_dir=str(project.project_dir),
                dbt_executable=dbt_executable(),
            )
        },
    )

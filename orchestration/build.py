"""``custodia build``: materialize the whole asset graph in-process and publish atomically.

The build never writes the warehouse readers use. It copies the current warehouse (if any) to
``<warehouse>.building``, runs every stage there (ingest, then dbt), and only when every stage
succeeded replaces the warehouse file with ``os.replace`` (atomic on one filesystem). A reader
that opened the old file keeps reading it; the next connection sees the new one. A failed build
removes its working copy and leaves the last good warehouse serving.

Engines (``engine``): ``duckdb`` builds every model inside the working copy; ``spark`` hands
the validated raw rows to Spark, runs the same dbt project there (target ``spark``) into a
per-build version directory, and loads that version's Parquet marts into the working copy's
``marts.*`` before the same atomic publish (orchestration/spark.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration import settings, spark


class BuildError(Exception):
    """A build that cannot start or did not succeed, with a one-line reason."""


@dataclass
class StageReport:
    name: str
    ok: bool
    seconds: float
    assets_materialized: int = 0
    checks_passed: int = 0
    checks_failed: int = 0  # severity ERROR
    checks_warned: int = 0  # severity WARN: visible, does not stop the build
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class BuildReport:
    warehouse: Path
    stages: list[StageReport] = field(default_factory=list)
    ingest: list[dict] = field(default_factory=list)  # per entity: files, rows, rejects
    exceptions_by_code: dict[str, int] = field(default_factory=dict)
    # figures of closed months changed since their close (marts.rpt_restatements): count, months
    restatements: tuple[int, int] = (0, 0)
    published: bool = False

    @property
    def ok(self) -> bool:
        return bool(self.stages) and all(s.ok for s in self.stages) and self.published


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)


def _fold_wal(warehouse: Path) -> None:
    """Checkpoint a write-ahead log left beside the published warehouse (a writer that died).

    The copy takes the main file only: without this, transactions committed into the WAL would
    be missing from the build, and the published file would later sit beside a WAL of an older
    checkpoint, which DuckDB refuses to open. Checkpointing changes no data readers see.
    """
    if warehouse.with_name(warehouse.name + ".wal").exists():
        try:
            con = duckdb.connect(str(warehouse))
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BuildError(f"cannot fold the write-ahead log of {warehouse}: {first}") from None
        try:
            con.execute("checkpoint")
        finally:
            con.close()


def lock_path(warehouse: Path) -> Path:
    """The file writers of ``warehouse`` lock (never the warehouse itself: readers stay free)."""
    return warehouse.with_name(warehouse.name + ".lock")


@contextlib.contextmanager
def writer_lock(warehouse: Path) -> Iterator[None]:
    """Hold the warehouse's writer lock for a block, or refuse at once if another build or
    close holds it. ``flock``: the operating system releases it when the holder exits or dies,
    so a killed writer never leaves the warehouse locked."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path(warehouse), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildError(
                f"another custodia build or close is writing {warehouse}; nothing was changed, "
                "try again when it has finished"
            ) from None
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _instance():
    import dagster as dg

    if os.environ.get("DAGSTER_HOME"):
        Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


DBT_OP = "custodia_dbt_models"  # the op of the dbt assets (orchestration/defs/transform.py)


def build_stages(keys: list) -> list[tuple[str, list]]:
    """The build's stages in order, each with its asset keys: ingest (the ``raw`` tables),
    then dbt build (everything else: the dbt seeds and models)."""
    return [
        ("ingest", [k for k in keys if k.path[0] == "raw"]),
        ("dbt build", [k for k in keys if k.path[0] != "raw"]),
    ]


def _run_stage(name, job, keys, instance, ops_config: dict | None = None) -> StageReport:
    start = time.perf_counter()
    run_config: dict = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    if ops_config:
        run_config["ops"] = ops_config
    result = job.execute_in_process(
        asset_selection=keys, instance=instance, raise_on_error=False, run_config=run_config
    )
    checks = result.get_asset_check_evaluations()
    report = StageReport(
        name=name,
        ok=result.success,
        seconds=time.perf_counter() - start,
        assets_materialized=len(result.get_asset_materialization_events()),
        checks_passed=sum(1 for c in checks if c.passed),
        checks_failed=sum(1 for c in checks if not c.passed and c.severity.value == "ERROR"),
        checks_warned=sum(1 for c in checks if not c.passed and c.severity.value == "WARN"),
    )
    for c in checks:
        if not c.passed:
            name = f"check {c.asset_key.to_user_string()}:{c.check_name}"
            if c.severity.value == "WARN":
                report.warnings.append(f"{name} warned")
            else:
                report.failures.append(f"{name} FAILED")
    for ev in result.get_step_failure_events():
        err = ev.step_failure_data.error
        msg = err.message.strip().splitlines()[0] if err else "unknown error"
        report.failures.append(f"step {ev.step_key} failed: {msg}")
    return report


def _summarise(path: Path, report: BuildReport) -> None:
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = {
            (s, t)
            for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }
        if ("audit", "ingested_files") in tables:
            rows = con.execute(
                """
                select entity, count(*) as files,
                       count(*) filter (where status = 'FAILED') as failed_files,
                       coalesce(sum(rows_loaded), 0) as rows_loaded,
                       coalesce(sum(rows_rejected), 0) as rows_rejected
                from audit.ingested_files group by entity order by entity
                """
            ).fetchall()
            report.ingest = [
                dict(
                    zip(
                        ("entity", "files", "failed_files", "rows_loaded", "rows_rejected"),
                        r,
                        strict=True,
                    )
                )
                for r in rows
            ]
        if ("marts", "rpt_restatements") in tables:
            sql = "select count(*), count(distinct month) from marts.rpt_restatements"
            report.restatements = tuple(con.execute(sql).fetchall()[0])
        if ("marts", "fct_exceptions") in tables:
            report.exceptions_by_code = dict(
                con.execute(
                    "select code, count(*) from marts.fct_exceptions group by code order by code"
                ).fetchall()
            )
    finally:
        con.close()


def _print_summary(report: BuildReport, echo: Callable[[str], None]) -> None:
    if report.ingest:
        echo("  deliveries (all builds so far):")
        echo(f"    {'entity':<20}{'files':>7}{'failed':>8}{'loaded':>12}{'rejected':>10}")
        for r in report.ingest:
            echo(
                f"    {r['entity']:<20}{r['files']:>7}{r['failed_files']:>8}"
                f"{r['rows_loaded']:>12,}{r['rows_rejected']:>10,}"
            )
    for s in report.stages:
        echo(
            f"  {s.name}: {'ok' if s.ok else 'FAILED'} in {s.seconds:.1f} s, "
            f"{s.assets_materialized} assets, checks {s.checks_passed} passed, "
            f"{s.checks_warned} warned, {s.checks_failed} failed"
        )
    if report.exceptions_by_code:
        total = sum(report.exceptions_by_code.values())
        by_code = ", ".join(f"{k} {v}" for k, v in report.exceptions_by_code.items())
        echo(f"  exceptions: {total} ({by_code})")
    figures, months = report.restatements
    if figures:
        echo(
            f"  restatements: {figures} figure(s) of {months} closed month(s) changed since "
            "their close (marts.rpt_restatements)"
        )


def _spark_handoff(work: Path, version: Path) -> StageReport:
    """The Spark engine's extra stage: the dbt sources of the working copy (the validated raw
    rows, the month-end closes) as Parquet under ``version`` (orchestration/spark.py)."""
    from orchestration.defs.transform import custodia_dbt_project

    start = time.perf_counter()
    try:
        con = duckdb.connect(str(work), read_only=True)
        try:
            spark.export_raw(con, version, Path(custodia_dbt_project().manifest_path))
        finally:
            con.close()
    except (duckdb.Error, OSError) as exc:
        return _failed_stage("spark handoff", start, exc)
    return StageReport(name="spark handoff", ok=True, seconds=time.perf_counter() - start)


def _failed_stage(name: str, start: float, exc: Exception) -> StageReport:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StageReport(
        name=name, ok=False, seconds=time.perf_counter() - start, failures=[f"{name}: {first}"]
    )


def _spark_attach(work: Path, version: Path) -> StageReport:
    """After the Spark dbt build: the working copy's public models are read from the
    version's Parquet tables."""
    from orchestration.defs.transform import custodia_dbt_project

    start = time.perf_counter()
    try:
        con = duckdb.connect(str(work))
        try:
            n = spark.attach_marts(con, version, Path(custodia_dbt_project().manifest_path))
        finally:
            con.close()
    except (duckdb.Error, OSError) as exc:
        return _failed_stage("attach marts", start, exc)
    # the raw copy has served (raw.* stays in the DuckDB file)
    shutil.rmtree(version / "raw", ignore_errors=True)
    return StageReport(
        name="attach marts", ok=True, seconds=time.perf_counter() - start, assets_materialized=n
    )


def run_build(
    data: Path,
    warehouse: Path,
    *,
    echo: Callable[[str], None] = print,
    full_refresh: bool = False,
    full_check: bool = False,
    engine: str = "duckdb",
    unit_tests: bool = False,
) -> BuildReport:
    """Ingest ``data`` and build every model into ``warehouse``; publish only on success.

    Incremental dbt models take only the new deliveries; ``full_refresh`` rebuilds them from
    every raw row (``custodia build --full-refresh``). An incremental build tests only the rows
    it wrote in the incremental models; ``full_check`` runs every data test over every row
    (``custodia build --full-check``). Refused (BuildError) while another build or close writes
    the same warehouse (``writer_lock``). ``engine`` ``spark`` runs the dbt models on Spark
    (orchestration/spark.py; always a full build there) and publishes a DuckDB file whose
    ``marts.*`` are copied from Spark's Parquet output. ``unit_tests`` also runs the dbt unit
    tests in the build (the tests use it to check them on Spark).
    """
    data, warehouse = Path(data), Path(warehouse)
    if engine not in spark.ENGINES:
        raise BuildError(f"unknown engine {engine!r} (one of {', '.join(spark.ENGINES)})")
    with writer_lock(warehouse):
        return _run_build(
            data,
            warehouse,
            echo=echo,
            full_refresh=full_refresh,
            full_check=full_check,
            engine=engine,
            unit_tests=unit_tests,
        )


def _run_build(
    data: Path,
    warehouse: Path,
    *,
    echo: Callable[[str], None],
    full_refresh: bool,
    full_check: bool,
    engine: str,
    unit_tests: bool,
) -> BuildReport:
    if not data.is_dir():
        raise BuildError(
            f"landing folder {data} does not exist (pass --data or set {settings.LANDING_ENV})"
        )
    if engine == "spark" and (missing := spark.missing_requirements()):
        raise BuildError(f"the Spark engine cannot run: {missing}")
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    work = warehouse.with_name(warehouse.name + ".building")
    _remove(work)
    if warehouse.exists():
        _fold_wal(warehouse)
        shutil.copy2(warehouse, work)

    report = BuildReport(warehouse=warehouse)
    echo(
        f"custodia build: {data} -> {warehouse}" + (" (engine spark)" if engine == "spark" else "")
    )
    env = {settings.WAREHOUSE_ENV: str(work), settings.LANDING_ENV: str(data)}
    version = None
    if engine == "spark":
        version = spark.new_version(spark.spark_root(warehouse))
        env[spark.SPARK_RAW_ENV] = str(version / "raw")
        env[spark.SPARK_WAREHOUSE_ENV] = str(version / "warehouse")
        env[spark.SPARK_JAVA_OPTIONS_ENV] = spark.driver_java_options(version)
    try:
        with settings.environment(env):
            from orchestration.definitions import defs

            job = defs.resolve_implicit_global_asset_job_def()
            instance = _instance()
            # what the build can materialize: not the external audit/closed_months (a dbt
            # source written only by `custodia close`)
            built = defs.resolve_asset_graph().materializable_asset_keys
            stages = build_stages([k for k in defs.resolve_all_asset_keys() if k in built])
            for i, (name, stage_keys) in enumerate(stages, 1):
                if not stage_keys:
                    continue
                echo(f"[{i}/{len(stages)}] {name}: {len(stage_keys)} assets ...")
                if name == "dbt build" and version is not None:
                    stage = _spark_handoff(work, version)
                    report.stages.append(stage)
                    if not stage.ok:
                        break
                    echo(f"    raw rows handed to Spark in {stage.seconds:.1f} s")
                config = {
                    "full_refresh": full_refresh,
                    "full_check": full_check,
                    "target": spark.TARGETS[engine],
                    "unit_tests": unit_tests,
                }
                ops = {DBT_OP: {"config": config}} if name == "dbt build" else None
                stage = _run_stage(name, job, stage_keys, instance, ops)
                report.stages.append(stage)
                for line in stage.failures + stage.warnings:
                    echo(f"    {line}")
                if not stage.ok:
                    break
                if name == "dbt build" and version is not None:
                    stage = _spark_attach(work, version)
                    report.stages.append(stage)
                    echo(f"    {stage.assets_materialized} public models read from {version}")
        if work.exists():
            _summarise(work, report)
        _print_summary(report, echo)
        if report.stages and all(s.ok for s in report.stages):
            con = duckdb.connect(str(work))
            con.execute("checkpoint")
            con.close()
            os.replace(work, warehouse)
            report.published = True
            echo(f"custodia build: published {warehouse}")
            # the versions no published file reads any more (the one before stays a while)
            spark.prune_versions(spark.spark_root(warehouse), keep=version)
        else:
            failed = next((s for s in report.stages if not s.ok), None)
            reason = failed.failures[0] if failed and failed.failures else "no stage ran"
            echo(f"custodia build: FAILED ({reason}); the previous warehouse is unchanged")
    finally:
        _remove(work)
        if version is not None and not report.published:
            shutil.rmtree(version, ignore_errors=True)
    return report

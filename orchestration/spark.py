"""The Spark engine of ``custodia build --engine spark`` (docs/architecture.md, "Engines").

Ingestion is the same on both engines: it validates the deliveries into the DuckDB working copy
(``raw.*``, ``audit.*``). With Spark, each build then gets its own *version* directory under
the Spark root (``<warehouse>.spark/`` beside the DuckDB file, or ``$CUSTODIA_SPARK_DIR``):

- ``<version>/raw/<schema>/<table>/``: every dbt source, handed to Spark as Parquet: the
  validated raw rows (``raw.<entity>``) and ``audit.closed_months``;
- ``<version>/warehouse/``: Spark's warehouse directory, where dbt-spark writes every model as
  a Parquet table (``<schema>.db/<table>/``).

The DuckDB file then holds the public models (``marts.*``) read from that version's Parquet
files, cast to the contract's DuckDB types, so the dashboard, the SQL page and analysts read it
as before. They are copied into the file as tables, not views over ``read_parquet``: the
dashboard's connections run with external access off (no SQL may reach a file), which a view
over Parquet would need; the copy costs seconds next to the Spark build and keeps the file
self-contained (it can be moved or copied alone).

The build publishes the DuckDB file with ``os.replace`` only after every stage succeeded; older
versions are removed afterwards (the one before stays a while, for anyone reading the Parquet
with Spark). A failed build removes its own version only.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from pathlib import Path

import duckdb

ENGINES = ("duckdb", "spark")
TARGETS = {"duckdb": "dev", "spark": "spark"}  # the dbt_project/profiles.yml target
SPARK_RAW_ENV = "CUSTODIA_SPARK_RAW"  # read by macros/spark.sql (register_raw_sources)
SPARK_WAREHOUSE_ENV = "CUSTODIA_SPARK_WAREHOUSE"  # read by profiles.yml (spark.sql.warehouse.dir)
SPARK_DIR_ENV = "CUSTODIA_SPARK_DIR"  # the root of the per-build versions
SPARK_JAVA_OPTIONS_ENV = "CUSTODIA_SPARK_DRIVER_JAVA_OPTIONS"  # profiles.yml, the driver JVM
PREVIOUS_VERSIONS_KEPT = 1
# Spark's own log at ERROR only, on stderr. dagster-dbt reads dbt's JSON events from stdout
# with stderr merged into it: Spark's default WARN lines (and its progress bar, switched off in
# profiles.yml) cut event lines in two, and Dagster missed those materializations and checks.
LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
"""


def missing_requirements() -> str | None:
    """Why this machine cannot run the Spark engine (None when it can): the ``spark`` extra
    (PySpark, dbt-spark) and a Java runtime on PATH."""
    import importlib.util

    for module, what in (("pyspark", "PySpark"), ("dbt.adapters.spark", "dbt-spark")):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            return f"{what} is not installed: pip install -e '.[spark]'"
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        return "no Java runtime (java on PATH or JAVA_HOME): `make java` installs Debian's"
    return None


def spark_root(warehouse: Path) -> Path:
    """Where a warehouse's Spark versions live: ``$CUSTODIA_SPARK_DIR`` or beside the file."""
    env = os.environ.get(SPARK_DIR_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return warehouse.with_name(warehouse.name + ".spark")


def new_version(root: Path) -> Path:
    """A fresh version directory (sortable by creation: UTC time, then a random suffix)."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    version = root / f"v{stamp}-{secrets.token_hex(4)}"
    version.mkdir()
    return version


def driver_java_options(version: Path) -> str:
    """The driver JVM's options for a build: Spark's log configuration (``LOG4J2``)."""
    config = version / "log4j2.properties"
    config.write_text(LOG4J2)
    return f"-Dlog4j2.configurationFile=file:{config}"


def versions(root: Path) -> list[Path]:
    """The version directories under ``root``, oldest first."""
    if not root.is_dir():
        return []
    return sorted(
        (p for p in root.iterdir() if p.is_dir() and p.name.startswith("v")),
        key=lambda p: (p.stat().st_mtime, p.name),
    )


def prune_versions(root: Path, keep: Path | None, previous: int = PREVIOUS_VERSIONS_KEPT) -> None:
    """Remove old versions after a publish: all but ``keep`` (the published one, if any) and
    the ``previous`` newest others (someone may still be reading their Parquet)."""
    others = [v for v in versions(root) if keep is None or v != keep]
    for old in others[: max(len(others) - previous, 0)]:
        shutil.rmtree(old, ignore_errors=True)


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def dbt_sources(manifest_path: Path) -> list[tuple[str, str]]:
    """(schema, table) of every dbt source: the raw entities and what Custodia keeps about its
    own operation (``audit.closed_months``, written by ``custodia close``)."""
    manifest = json.loads(manifest_path.read_text())
    return sorted({(s["schema"], s["identifier"]) for s in manifest["sources"].values()})


def export_raw(con: duckdb.DuckDBPyConnection, version: Path, manifest_path: Path) -> Path:
    """Write every dbt source table of the working copy as Parquet under
    ``<version>/raw/<schema>/<table>/`` (macros/spark.sql registers each one over its folder)."""
    raw = version / "raw"
    for schema, table in dbt_sources(manifest_path):
        folder = raw / schema / table
        folder.mkdir(parents=True, exist_ok=True)
        con.execute(
            f"copy (select * from {schema}.{table}) to {_quote(folder / 'part-0.parquet')} "
            "(format parquet)"
        )
    return raw


def public_models(manifest_path: Path) -> list[dict]:
    """The public (contracted) models of the dbt manifest: schema, alias and columns."""
    manifest = json.loads(manifest_path.read_text())
    models = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["config"].get("access") != "public":
            continue
        columns = [
            (c["name"], c["data_type"]) for c in node["columns"].values() if c.get("data_type")
        ]
        models.append({"schema": node["schema"], "alias": node["alias"], "columns": columns})
    return sorted(models, key=lambda m: (m["schema"], m["alias"]))


def dbt_schemas(manifest_path: Path) -> set[str]:
    """Every schema the dbt project builds into (models and seeds)."""
    manifest = json.loads(manifest_path.read_text())
    return {
        n["schema"] for n in manifest["nodes"].values() if n["resource_type"] in ("model", "seed")
    }


def attach_marts(con: duckdb.DuckDBPyConnection, version: Path, manifest_path: Path) -> int:
    """Make the DuckDB working copy hold the Spark build's public models: each becomes a table
    read from its Parquet files in ``version`` (cast to its contract's DuckDB types); the other
    dbt schemas, left by an earlier DuckDB build, are dropped (they would be stale). Returns the
    number of tables."""
    models = public_models(manifest_path)
    for schema in sorted(dbt_schemas(manifest_path)):
        con.execute(f"drop schema if exists {schema} cascade")
    for schema in sorted({m["schema"] for m in models}):
        con.execute(f"create schema {schema}")
    tables = version / "warehouse"
    for m in models:
        folder = tables / f"{m['schema']}.db" / m["alias"]
        if m["columns"]:
            select = ", ".join(
                f'cast("{name}" as {type_}) as "{name}"' for name, type_ in m["columns"]
            )
        else:
            select = "*"
        if any(folder.glob("*.parquet")):
            source = f"read_parquet({_quote(folder / '*.parquet')})"
            con.execute(f"create table {m['schema']}.{m['alias']} as select {select} from {source}")
        else:  # Spark wrote no file: an empty table
            empty = ", ".join(f'cast(null as {t}) as "{n}"' for n, t in m["columns"]) or "1 as x"
            con.execute(f"create table {m['schema']}.{m['alias']} as select {empty} where false")
    return len(models)

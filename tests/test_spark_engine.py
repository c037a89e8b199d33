"""``custodia build --engine spark``: the same dbt project on Apache Spark gives the same marts.

Each Spark build is a real one (dbt-spark, session method, PySpark in local mode, Java from
Debian): the bundled sample and a landing of random histories with faults (tests/histories.py)
are built once per engine, and every public model (every contracted column) is compared both
ways, multiset difference (``EXCEPT ALL``) on DuckDB, which reads both. The Spark sample build
also runs every dbt unit test. Bad input behaves the same (same rejects, same audit), and a
failed Spark build leaves the published warehouse and its Parquet untouched.

Marked ``spark`` (``pytest -m spark`` runs only these, ``-m "not spark"`` skips them); a Spark
build costs about two minutes on two cores, so the module builds each landing once.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from pathlib import Path

import dbt_support as h
import duckdb
import oracle
import pytest
from conftest import SAMPLE, SAMPLE_CLOSE_MONTH, SAMPLE_LATE
from histories import Landing, random_history
from oracle.builder import World

from orchestration import settings, spark
from orchestration.build import run_build
from orchestration.close import run_close
from orchestration.defs.transform import custodia_dbt_project
from orchestration.ingest import ingest_into

pytestmark = [pytest.mark.spark, pytest.mark.slow]

HISTORY_FAULTS = ["malformed_row", "malformed_row", "duplicate_file", "changed_file", "empty"]


def _build(data: Path, warehouse: Path, engine: str, **kw):
    log: list[str] = []
    report = run_build(data, warehouse, echo=log.append, engine=engine, **kw)
    assert report.ok, "\n".join(log[-40:])
    return report


def _public_models() -> list[dict]:
    return spark.public_models(Path(custodia_dbt_project().manifest_path))


def _spark_run_results() -> dict:
    """The run_results.json of the newest dbt run on the Spark target."""
    target = settings.DBT_PROJECT_DIR / "target"
    runs = sorted(
        (p for p in target.glob("custodia_dbt_models-*") if (p / "run_results.json").exists()),
        key=lambda p: (p / "run_results.json").stat().st_mtime,
        reverse=True,
    )
    for run in runs:
        results = json.loads((run / "run_results.json").read_text())
        if results["args"].get("target") == "spark":
            return {**results, "manifest": json.loads((run / "manifest.json").read_text())}
    raise AssertionError(f"no dbt run on the spark target under {target}")


def assert_same_marts(duck: Path, sparky: Path, skip: frozenset = frozenset()) -> dict[str, int]:
    """Every public model, every contracted column (but ``skip``): equal multisets both ways,
    same types."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{duck}' as d (read_only)")
        con.execute(f"attach '{sparky}' as s (read_only)")
        counts = {}
        for m in _public_models():
            rel = f"{m['schema']}.{m['alias']}"
            cols = ", ".join(f'"{n}"' for n, _ in m["columns"] if n not in skip) or "*"
            types = [
                con.execute(f"describe select {cols} from {db}.{rel}").fetchall()
                for db in ("d", "s")
            ]
            assert [t[:2] for t in types[0]] == [t[:2] for t in types[1]], rel
            for a, b in (("d", "s"), ("s", "d")):
                diff = con.execute(
                    f"select {cols} from {a}.{rel} except all select {cols} from {b}.{rel} limit 5"
                ).fetchall()
                assert not diff, (
                    f"{rel}: rows in {a} ({'duckdb' if a == 'd' else 'spark'}) only: {diff}"
                )
            counts[rel] = con.execute(f"select count(*) from s.{rel}").fetchone()[0]
        return counts
    finally:
        con.close()


def _audit(warehouse: Path) -> tuple[list, list]:
    files = h.fetch(
        warehouse,
        "select entity, source_file, sha256, status, rows_read, rows_loaded, rows_rejected, "
        "error from audit.ingested_files order by file_id",
    )
    rejects = h.fetch(
        warehouse,
        "select entity, source_file, row_number, reason_codes, reasons, record "
        "from audit.rejected_rows order by source_file, row_number",
    )
    return files, rejects


# --------------------------------------------------------------------------- the sample


@pytest.fixture(scope="module")
def sample_builds(tmp_path_factory, sample_warehouse):
    """The sample built on Spark (with the dbt unit tests) beside the session's DuckDB build."""
    tmp = tmp_path_factory.mktemp("spark_sample")
    warehouse = tmp / "custodia.duckdb"
    report = _build(SAMPLE, warehouse, "spark", unit_tests=True)
    return {"duckdb": sample_warehouse, "spark": warehouse, "report": report}


def test_sample_gives_the_same_marts_on_both_engines(sample_builds):
    counts = assert_same_marts(sample_builds["duckdb"], sample_builds["spark"])
    assert counts["marts.fct_sales"] > 1000 and counts["marts.fct_exceptions"] > 50, counts
    # every mart holds rows, but rpt_restatements: no month of the plain sample is closed yet
    # (the restatement path is compared on DuckDB, tests/test_close.py)
    empty = {name for name, n in counts.items() if n == 0}
    assert empty == {"marts.rpt_restatements"}, counts


def test_every_dbt_unit_test_and_data_test_passes_on_spark(sample_builds):
    results = _spark_run_results()
    passed = {r["unique_id"] for r in results["results"] if r["status"] in ("pass", "success")}
    unit_tests = set(results["manifest"]["unit_tests"])
    data_tests = {
        k for k, n in results["manifest"]["nodes"].items() if n["resource_type"] == "test"
    }
    assert len(unit_tests) >= 13 and unit_tests <= passed, sorted(unit_tests - passed)
    assert data_tests and data_tests <= passed, sorted(data_tests - passed)
    assert results["manifest"]["metadata"]["adapter_type"] == "spark"
    # Dagster saw every one of them (Spark's console output once cut dbt's event stream)
    [stage] = [s for s in sample_builds["report"].stages if s.name == "dbt build"]
    refable = [
        n for n in results["manifest"]["nodes"].values() if n["resource_type"] in ("model", "seed")
    ]
    assert stage.assets_materialized == len(refable)
    assert stage.checks_passed == len(data_tests) and not stage.failures


def test_spark_marts_are_parquet_in_a_version_beside_the_warehouse(sample_builds):
    warehouse = sample_builds["spark"]
    [version] = spark.versions(spark.spark_root(warehouse))
    assert not (version / "raw").exists(), "the raw hand-off is removed after the build"
    public = {(m["schema"], m["alias"]) for m in _public_models()}
    for schema, alias in public:
        assert list((version / "warehouse" / f"{schema}.db" / alias).glob("*.parquet")), alias
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = set(con.execute("select schema_name, table_name from duckdb_tables()").fetchall())
        views = con.execute("select count(*) from duckdb_views() where not internal").fetchone()
    finally:
        con.close()
    # the file holds the marts and ingestion's tables, nothing stale from a DuckDB build
    assert {t for t in tables if t[0] not in ("audit", "raw")} == public
    assert views == (0,)


def test_the_dashboard_and_the_sql_page_read_a_spark_build(sample_builds, monkeypatch):
    """Their connections are confined (no file access from SQL): a Spark build must not need
    any, so the marts are tables in the file, not views over Parquet."""
    from dashboards.queries import analyst, connection

    warehouse = sample_builds["spark"]
    monkeypatch.setenv(settings.WAREHOUSE_ENV, str(warehouse))
    con = connection.connect(warehouse)
    try:
        for m in _public_models():
            con.execute(f"select count(*) from {m['schema']}.{m['alias']}").fetchone()
    finally:
        con.close()
    result = analyst.run_analyst_query("select count(*) as n from marts.fct_sales")
    assert (
        result.frame["n"][0]
        == h.fetch(warehouse, "select count(*) as n from marts.fct_sales")[0]["n"]
    )


def test_a_failed_spark_build_leaves_the_previous_warehouse_untouched(
    sample_builds, tmp_path, monkeypatch
):
    warehouse = sample_builds["spark"]
    root = spark.spark_root(warehouse)
    before = hashlib.sha256(warehouse.read_bytes()).hexdigest()
    versions = spark.versions(root)
    # a new delivery (ingested into the working copy), then Spark unreachable (a master URL
    # Spark cannot parse): the dbt stage fails
    data = tmp_path / "landing"
    shutil.copytree(SAMPLE, data)
    header = next((SAMPLE / "users").glob("*.csv")).read_text().splitlines()[0]
    (data / "users" / "users_9999.csv").write_text(header + "\n")
    monkeypatch.setenv("CUSTODIA_SPARK_MASTER", "no-such-master://nowhere")
    log: list[str] = []
    report = run_build(data, warehouse, echo=log.append, engine="spark")
    assert not report.ok and not report.published
    assert [s.name for s in report.stages if not s.ok] == ["dbt build"], log[-10:]
    assert "the previous warehouse is unchanged" in log[-1]
    assert hashlib.sha256(warehouse.read_bytes()).hexdigest() == before
    assert spark.versions(root) == versions, "the failed build's version is removed"
    assert not warehouse.with_name(warehouse.name + ".building").exists()
    # the published file still reads its Parquet and says what the DuckDB build says
    assert_same_marts(sample_builds["duckdb"], warehouse)


# --------------------------------------------------------------------------- random histories


def test_a_close_then_a_late_delivery_restate_the_same_on_both_engines(
    sample_builds, restated_warehouse, tmp_path
):
    """`make run`'s path on Spark: the sample closed (the real close, on the file a Spark build
    published), then the late delivery built on Spark: the same restatements as on DuckDB."""
    warehouse = tmp_path / "custodia.duckdb"
    shutil.copy2(sample_builds["spark"], warehouse)
    run_close(warehouse, SAMPLE_CLOSE_MONTH, closed_by="finance-test", echo=lambda _line: None)
    _build(SAMPLE_LATE, warehouse, "spark")
    # closed_at is the instant of each close, the one figure the two runs cannot share
    counts = assert_same_marts(restated_warehouse, warehouse, skip=frozenset({"closed_at"}))
    assert counts["marts.rpt_restatements"] > 0, counts


@pytest.fixture(scope="module")
def history_builds(tmp_path_factory):
    """Random histories with faults (rejected rows, failed files, re-deliveries) delivered in
    two phases, built on each engine."""
    tmp = tmp_path_factory.mktemp("spark_histories")
    world = World()
    for k in range(8):
        random_history(world, random.Random(1000 + k), f"H{k:02d}_")
    landing = Landing(world, random.Random(77), list(HISTORY_FAULTS))
    root = tmp / "landing"
    builds = {e: tmp / e / "custodia.duckdb" for e in ("duckdb", "spark")}
    landing.write(root, 1)
    for warehouse in builds.values():  # phase 1 only ingested (as the sensor's job does)
        warehouse.parent.mkdir()
        ingest_into(warehouse, root)
    landing.write(root, 2)
    for engine, warehouse in builds.items():
        _build(root, warehouse, engine)
    return {**builds, "landing": landing}


def test_random_histories_give_the_same_marts_on_both_engines(history_builds):
    counts = assert_same_marts(history_builds["duckdb"], history_builds["spark"])
    assert counts["marts.fct_event_lines"] > 0 and counts["marts.fct_custody_intervals"] > 0


def test_spark_marts_of_random_histories_agree_with_the_oracle(history_builds):
    warehouse, landing = history_builds["spark"], history_builds["landing"]
    file_ids: dict[str, list[int]] = {}
    for row in h.fetch(warehouse, "select source_file, file_id from audit.ingested_files"):
        file_ids.setdefault(row["source_file"], []).append(row["file_id"])
    for ids in file_ids.values():
        ids.sort()
    h.assert_marts_agree(warehouse, oracle.run(landing.expected_rows(file_ids)))


def test_bad_input_is_rejected_the_same_on_both_engines(history_builds):
    duck_files, duck_rejects = _audit(history_builds["duckdb"])
    spark_files, spark_rejects = _audit(history_builds["spark"])
    assert duck_rejects and all(r["reasons"] for r in spark_rejects)
    assert any(f["status"] == "FAILED" and f["error"] for f in spark_files)
    assert spark_files == duck_files
    assert spark_rejects == duck_rejects


# --------------------------------------------------------------------------- the seam


def test_the_engine_chooses_the_dbt_target():
    from orchestration.defs.transform import dbt_build_args

    assert dbt_build_args() == ["build", "--exclude-resource-type", "unit_test"]
    assert dbt_build_args(target="spark") == [
        "build", "--exclude-resource-type", "unit_test", "--target", "spark"
    ]  # fmt: skip
    assert dbt_build_args(target="spark", unit_tests=True) == ["build", "--target", "spark"]
    assert spark.TARGETS == {"duckdb": "dev", "spark": "spark"}


def test_an_unknown_engine_is_refused(tmp_path):
    from orchestration.build import BuildError

    with pytest.raises(BuildError, match="unknown engine 'flink'"):
        run_build(SAMPLE, tmp_path / "w.duckdb", engine="flink", echo=lambda _: None)
    assert not list(tmp_path.iterdir())


def test_a_publish_keeps_the_published_version_and_the_one_before(tmp_path):
    root = tmp_path / "w.duckdb.spark"
    made = []
    for k in range(4):
        made.append(spark.new_version(root))
        # distinct mtimes: versions sort by creation
        stamp = 1_800_000_000 + k
        os.utime(made[-1], (stamp, stamp))
    spark.prune_versions(root, keep=made[-1])
    assert spark.versions(root) == made[-2:]
    spark.prune_versions(root, keep=None)  # a DuckDB build: only the one before stays a while
    assert spark.versions(root) == made[-1:]


def test_a_machine_without_java_is_told_how_to_get_it(tmp_path, monkeypatch):
    from orchestration.build import BuildError

    assert spark.missing_requirements() is None  # this machine runs the tests above
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BuildError, match="no Java runtime.*make java"):
        run_build(SAMPLE, tmp_path / "w.duckdb", engine="spark", echo=lambda _: None)
    assert not (tmp_path / "w.duckdb").exists()

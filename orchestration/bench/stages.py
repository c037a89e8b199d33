"""The measured stages other than the dashboard's: generate, ingest, build (+ baselines) and
incremental.

Each ``bench_<stage>(scale, runs)`` returns the figures of one scale (``runner`` keeps them in
``data/bench/results.json``); the heavy work runs in measured subprocesses.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

from orchestration import settings
from orchestration.bench import CACHE, CORE_MARTS, SEED
from orchestration.bench.measure import python, remove_db, repeat, run_measured, summary

# ---------------------------------------------------------------------------- generate


def _gen_meta(scale: str) -> Path:
    return CACHE / f"{scale}-seed{SEED}.generate.json"


def _export(scale: str) -> Path:
    return CACHE / f"{scale}-seed{SEED}"


def forget_generated(scale: str) -> None:
    """Drop the cached export of ``scale``: the next stage generates (and times) it anew."""
    shutil.rmtree(_export(scale), ignore_errors=True)
    _gen_meta(scale).unlink(missing_ok=True)


def generated(scale: str) -> Path:
    """The cached export of ``scale``; generated (and timed) on first use."""
    out = _export(scale)
    meta = _gen_meta(scale)
    if not (out / "_truth" / "figures.json").exists():
        shutil.rmtree(out, ignore_errors=True)
        cmd = [sys.executable, "-m", "orchestration.cli", "generate", "--out", str(out),
               "--seed", str(SEED), "--scale", scale]  # fmt: skip
        m = run_measured(cmd)
        meta.write_text(json.dumps({"seconds": m.seconds, "peak_rss_mib": m.peak_rss_mib}))
    return out


def bench_generate(scale: str, runs: int) -> dict:
    """The generator's time and peak, measured when the cache was filled."""
    generated(scale)
    meta = _gen_meta(scale)
    return json.loads(meta.read_text()) if meta.exists() else {}


def count_rows(folder: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect()
    out = {}
    for d in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("_")):
        sql = "select count(*) from read_csv(?, all_varchar=true, union_by_name=true)"
        out[d.name] = con.execute(sql, [str(d / "*.csv")]).fetchall()[0][0]
    return out


# ---------------------------------------------------------------------------- ingest


def bench_ingest(scale: str, runs: int) -> dict:
    """Ingest + validation of every file vs a bare ``duckdb read_csv`` load of the same files.

    The bare load is what DuckDB alone does with the files: typed auto-detection, rows it cannot
    parse skipped (no reasons kept), one table per entity, same warehouse settings.
    """
    folder = generated(scale)
    work = CACHE / f"ingest-{scale}.duckdb"
    ours = python(
        "import duckdb, pathlib;"
        "from orchestration.contract import ENTITY_NAMES;"
        "from orchestration.ingest import ingest_entity;"
        "from orchestration.resources import duckdb_config;"
        f"p=pathlib.Path({str(work)!r}); p.unlink(missing_ok=True);"
        "con=duckdb.connect(str(p), config=duckdb_config(p));"
        f"[ingest_entity(con, pathlib.Path({str(folder)!r}), e) for e in ENTITY_NAMES];"
        "con.close()"
    )
    bare = python(
        "import duckdb, pathlib;"
        "from orchestration.resources import duckdb_config;"
        f"p=pathlib.Path({str(work)!r}); p.unlink(missing_ok=True);"
        "con=duckdb.connect(str(p), config=duckdb_config(p));"
        f"root=pathlib.Path({str(folder)!r});"
        "[con.execute(f'create table {d.name} as select * from read_csv(?, union_by_name=true,"
        " ignore_errors=true)', [str(d / '*.csv')]) for d in sorted(root.iterdir())"
        " if d.is_dir() and not d.name.startswith('_')];"
        "con.close()"
    )
    rows = sum(count_rows(folder).values())
    cleanup = lambda: remove_db(work)  # noqa: E731
    result = {
        "rows": rows,
        "custodia": repeat(ours, runs, before=cleanup),
        "bare_duckdb": repeat(bare, runs, before=cleanup),
    }
    result["rows_per_s"] = rows / result["custodia"]["median_s"]
    result["bare_rows_per_s"] = rows / result["bare_duckdb"]["median_s"]
    result["ratio_to_bare"] = result["custodia"]["median_s"] / result["bare_duckdb"]["median_s"]
    remove_db(work)
    return result


# ---------------------------------------------------------------------------- build


def process_started_at() -> float:
    """The epoch second this process started (Linux ``/proc``): the interpreter's own start-up
    and imports count in the fixed cost."""
    ticks = os.sysconf("SC_CLK_TCK")
    stat = Path("/proc/self/stat").read_text()
    start_ticks = int(stat.rsplit(")", 1)[1].split()[19])
    boot = next(
        float(line.split()[1])
        for line in Path("/proc/stat").read_text().splitlines()
        if line.startswith("btime")
    )
    return boot + start_ticks / ticks


def child_build(
    data: str,
    warehouse: str,
    out_json: str,
    full_refresh: bool = False,
    full_check: bool = False,
    engine: str = "duckdb",
) -> None:
    """Run in the measured subprocess: one ``run_build``, its stages written to ``out_json``
    with the instants the process started, the first stage began and the build returned."""
    from orchestration.build import run_build

    started = time.time()
    marks: dict[str, float] = {}

    def echo(line: str) -> None:
        if line.startswith("[1/"):
            marks.setdefault("first_stage_at", time.time())

    report = run_build(
        Path(data),
        Path(warehouse),
        echo=echo,
        full_refresh=full_refresh,
        full_check=full_check,
        engine=engine,
    )
    marks["returned_at"] = time.time()
    marks["process_started_at"] = process_started_at()
    stages = {s.name: s.seconds for s in report.stages}
    dbt = dbt_split(started)
    out = {"ok": report.ok, "stages": stages, "dbt": dbt, "marks": marks}
    Path(out_json).write_text(json.dumps(out))
    raise SystemExit(0 if report.ok else 1)


def dbt_split(since: float) -> dict:
    """Models vs tests of the latest dbt invocation (dagster-dbt's target folder).

    ``*_busy_s`` sums node execution times (2 threads overlap, so the sum can exceed the wall
    time); ``core_models_s`` is, per core mart, the sum over the models it depends on (its
    whole ancestry, itself included), and ``core_models`` lists them.
    """
    target = settings.DBT_PROJECT_DIR / "target"
    runs = [
        p
        for p in target.glob("*/run_results.json")
        if p.stat().st_mtime >= since and (p.parent / "manifest.json").exists()
    ]
    if not runs:
        return {}
    latest = max(runs, key=lambda p: p.stat().st_mtime)
    run_results = json.loads(latest.read_text())
    results = run_results["results"]
    manifest = json.loads((latest.parent / "manifest.json").read_text())
    nodes = manifest["nodes"]
    per_model = {}
    split = {"models_busy_s": 0.0, "tests_busy_s": 0.0, "unit_tests_busy_s": 0.0}
    split["elapsed_s"] = run_results.get("elapsed_time", 0.0)  # dbt's nodes, wall time
    for r in results:
        uid = r["unique_id"]
        kind = uid.split(".")[0]
        secs = r.get("execution_time") or 0.0
        if kind == "model":
            split["models_busy_s"] += secs
            per_model[uid.split(".")[-1]] = secs
        elif kind == "test":
            split["tests_busy_s"] += secs
        elif kind == "unit_test":
            split["unit_tests_busy_s"] += secs
    split["core_models_s"], split["core_models"] = {}, {}
    for mart in CORE_MARTS:
        ancestry: set[str] = set()
        stack = [uid for uid in nodes if uid.startswith("model.") and uid.split(".")[-1] == mart]
        while stack:
            uid = stack.pop()
            if uid in ancestry or not uid.startswith("model."):
                continue
            ancestry.add(uid)
            stack.extend(nodes.get(uid, {}).get("depends_on", {}).get("nodes", []))
        names = sorted(u.split(".")[-1] for u in ancestry)
        split["core_models_s"][mart] = sum(per_model.get(n, 0.0) for n in names)
        split["core_models"][mart] = names
    split["slowest_models"] = sorted(per_model.items(), key=lambda kv: -kv[1])[:8]
    return split


def _build_cmd(
    data: Path,
    warehouse: Path,
    out_json: Path,
    full_refresh: bool = False,
    full_check: bool = False,
    engine: str = "duckdb",
):
    return python(
        "from orchestration.bench.stages import child_build;"
        f"child_build({str(data)!r}, {str(warehouse)!r}, {str(out_json)!r}, {full_refresh!r},"
        f" {full_check!r}, {engine!r})"
    )


# ---------------------------------------------------------------------------- floor


def bench_floor(scale: str, runs: int) -> dict:
    """A full ``custodia build`` into an empty warehouse vs the floor on the same export,
    alternating run by run so both see the same machine.

    The floor (``orchestration.bench.baselines.floor``) is timed as a whole process: Python
    start, reading every file, computing every mart into in-memory tables. Both figures are
    measured here, whatever the ``build`` stage measured, so the ratio compares one moment.
    """
    folder = generated(scale)
    work = CACHE / f"floor-{scale}.duckdb"
    info = CACHE / f"floor-{scale}.json"
    build_cmd = _build_cmd(folder, work, info)
    floor_cmd = [sys.executable, "-m", "orchestration.bench.baselines.floor", str(folder)]
    builds, floors, budgeted = [], [], []
    for _ in range(runs):
        remove_db(work)
        builds.append(run_measured(build_cmd, {"DAGSTER_HOME": ""}))
        remove_db(work)
        floors.append(run_measured([*floor_cmd, "plain"]))
        budgeted.append(run_measured([*floor_cmd, "build_budget"]))
    result = {"build": summary(builds), "floor": summary(floors)}
    result["floor_build_budget"] = summary(budgeted)
    result["ratio_build_to_floor"] = result["build"]["median_s"] / result["floor"]["median_s"]
    result["ratio_build_to_budget_floor"] = (
        result["build"]["median_s"] / result["floor_build_budget"]["median_s"]
    )
    return result


# ---------------------------------------------------------------------------- engines

ENGINE_CORES = 2  # DuckDB's threads (profiles.yml) and Spark's local[2]: the same two cores


def bench_engines(scale: str, runs: int) -> dict:
    """A full build on each engine (``custodia build --engine duckdb|spark``) of the same
    export in the same run, alternating engines run by run so both see the same machine.

    Per engine: wall time and peak memory of the whole build (the Spark build's process tree
    holds the JVM), its ingest and dbt stages, and the dbt stage's throughput per core (rows
    of the export per second per core of the two used).
    """
    from orchestration import spark

    folder = generated(scale)
    rows = sum(count_rows(folder).values())
    per_engine: dict[str, list] = {"duckdb": [], "spark": []}
    for _ in range(runs):
        for engine in per_engine:
            work = CACHE / f"engines-{scale}-{engine}.duckdb"
            info = CACHE / f"engines-{scale}-{engine}.json"
            remove_db(work)
            shutil.rmtree(spark.spark_root(work), ignore_errors=True)
            m = run_measured(_build_cmd(folder, work, info, engine=engine), {"DAGSTER_HOME": ""})
            per_engine[engine].append((m, json.loads(info.read_text())))
            remove_db(work)
            shutil.rmtree(spark.spark_root(work), ignore_errors=True)
    result: dict = {"rows": rows, "cores": ENGINE_CORES}
    for engine, measured in per_engine.items():
        secs = [m.seconds for m, _ in measured]
        dbt_s = statistics.median(i["stages"].get("dbt build", 0) for _, i in measured)
        result[engine] = {
            "ok": all(i["ok"] for _, i in measured),
            "median_s": statistics.median(secs),
            "min_s": min(secs),
            "max_s": max(secs),
            "peak_rss_mib": max(m.peak_rss_mib for m, _ in measured),
            "load": max(m.load for m, _ in measured),
            "ingest_s": statistics.median(i["stages"].get("ingest", 0) for _, i in measured),
            "dbt_s": dbt_s,
            "models_busy_s": statistics.median(
                i["dbt"].get("models_busy_s", 0) for _, i in measured
            ),
            "rows_per_core_s": rows / (dbt_s * ENGINE_CORES) if dbt_s else 0.0,
        }
    return result


BASELINE_SCALES = ("tiny", "small", "medium")


def bench_build(scale: str, runs: int) -> dict:
    """Full build into an empty warehouse (kept for the later stages), split by stage."""
    folder = generated(scale)
    work = CACHE / f"build-{scale}.duckdb"
    info = CACHE / f"build-{scale}.json"
    stage_runs = []

    def fresh() -> None:
        remove_db(work)

    cmd = _build_cmd(folder, work, info)
    env = {"DAGSTER_HOME": ""}
    measures = []
    for _ in range(runs):
        fresh()
        measures.append(run_measured(cmd, env))
        stage_runs.append(json.loads(info.read_text()))
    result = {
        **summary(measures),
        "ingest_s": statistics.median(r["stages"].get("ingest", 0) for r in stage_runs),
        "dbt_s": statistics.median(r["stages"].get("dbt build", 0) for r in stage_runs),
        "dbt": stage_runs[-1]["dbt"],
    }
    for key in ("models_busy_s", "tests_busy_s", "unit_tests_busy_s"):
        result[key] = statistics.median(r["dbt"].get(key, 0) for r in stage_runs)
    result["core_models_s"] = {
        mart: statistics.median(r["dbt"].get("core_models_s", {}).get(mart, 0) for r in stage_runs)
        for mart in CORE_MARTS
    }
    busy = result["models_busy_s"] + result["tests_busy_s"] + result["unit_tests_busy_s"]
    # dbt wall time apportioned by busy share (threads overlap models and tests)
    share = result["dbt_s"] / busy if busy else 0
    result["dbt_models_s"] = result["models_busy_s"] * share
    result["dbt_tests_s"] = (result["tests_busy_s"] + result["unit_tests_busy_s"]) * share
    # the per-mart baselines stop at medium: the pandas one needs 5.6 GB there and would need
    # about three times that on large; the floor stage covers every scale
    result["baselines"] = bench_baselines(work, runs) if scale in BASELINE_SCALES else {}
    for mart, per_name in result["baselines"].items():
        ours = result["core_models_s"].get(mart, 0)
        for b in per_name.values():
            b["ratio_dbt_to_baseline"] = ours / b["median_s"] if b["median_s"] else None
    return result


def bench_baselines(warehouse: Path, runs: int) -> dict:
    """Each core mart computed by each baseline from the warehouse's raw tables, one measured
    process per (mart, implementation): ``{mart: {implementation: measure}}``."""
    from orchestration.bench.baselines import IMPLEMENTATIONS

    out: dict = {}
    for mart in CORE_MARTS:
        for name in IMPLEMENTATIONS:
            cmd = python(
                "from orchestration.bench.baselines import run_cli;"
                f"run_cli({mart!r}, {name!r}, {str(warehouse)!r})"
            )
            out.setdefault(mart, {})[name] = repeat(cmd, runs)
    return out


# ---------------------------------------------------------------------------- incremental


def split_last_day(src: Path, dst: Path) -> tuple[Path, Path]:
    """Two landing folders from one export: ``before`` (all but the last day) and ``after``
    (the same plus one new delivery per entity holding the last day's rows).

    The last file of each entity is split on its rows' latest ``updated_at`` date (rows whose
    timestamp does not parse stay in ``before``). The union of ``after`` is exactly the
    original export, so an incremental build on ``after`` must equal a full build of ``src``.
    """
    import polars as pl

    before, after = dst / "before", dst / "after"
    if (after / ".complete").exists():
        return before, after
    shutil.rmtree(dst, ignore_errors=True)
    for d in sorted(p for p in src.iterdir() if p.is_dir() and not p.name.startswith("_")):
        files = sorted(d.glob("*.csv"))
        for folder in (before, after):
            (folder / d.name).mkdir(parents=True, exist_ok=True)
            for f in files[:-1]:
                (folder / d.name / f.name).symlink_to(f.resolve())
        if not files:
            continue
        last = files[-1]
        frame = pl.read_csv(last, infer_schema=False)
        col = "updated_at" if "updated_at" in frame.columns else frame.columns[-1]
        day = pl.col(col).str.slice(0, 10)
        last_day = frame.select(day.drop_nulls().max()).item()
        is_new = (day == last_day).fill_null(False)
        old, new = frame.filter(~is_new), frame.filter(is_new)
        for folder in (before, after):
            old.write_csv(folder / d.name / last.name)
        new.write_csv(after / d.name / (last.stem[: -len(last.stem.split("_")[-1])] + "9999.csv"))
    (after / ".complete").write_text("")
    return before, after


def _build_on_base(
    scale: str, before: Path, landing: Path, name: str, runs: int, full: dict | None
) -> dict:
    """Builds of ``landing`` on a copy of the base warehouse (``before`` built, kept in the
    cache), each from a fresh copy; their times against the full build."""
    base = CACHE / f"incremental-{scale}-base.duckdb"
    work = CACHE / f"{name}-{scale}.duckdb"
    info = CACHE / f"{name}-{scale}.json"
    if not base.exists():
        m = run_measured(_build_cmd(before, base, info), {"DAGSTER_HOME": ""})
        print(f"  base build (all but the last day): {m.seconds:.1f} s", flush=True)

    copies = []

    def restore() -> None:
        remove_db(work)
        t = time.perf_counter()
        shutil.copyfile(base, work)  # what the build does to <warehouse>.building
        copies.append(time.perf_counter() - t)

    new_rows = sum(count_rows(landing).values()) - sum(count_rows(before).values())
    inc = repeat(_build_cmd(landing, work, info), runs, {"DAGSTER_HOME": ""}, before=restore)
    stages = json.loads(info.read_text())
    result = {
        "new_rows": new_rows,
        "warehouse_mib": base.stat().st_size / 2**20,
        "copy_s": statistics.median(copies),
        "incremental": inc,
        "stages": stages["stages"],
        "dbt": {k: v for k, v in stages["dbt"].items() if k != "core_models"},
    }
    if full:
        result["full_s"] = full["median_s"]
        result["ratio_to_full"] = inc["median_s"] / full["median_s"]
    remove_db(work)
    return result


def bench_incremental(scale: str, runs: int, full: dict | None) -> dict:
    """A build after one new day of deliveries on the base warehouse (all but the last day)."""
    before, after = split_last_day(generated(scale), CACHE / f"incremental-{scale}")
    return _build_on_base(scale, before, after, "incremental", runs, full)


# ---------------------------------------------------------------------------- fixed cost


def fixed_split(wall_s: float, info: dict) -> dict:
    """One build's wall time split into what does not depend on the data and what does.

    ``dbt_nodes_s`` is dbt's own elapsed time running the models and tests (run_results.json);
    everything else is the fixed cost of a build: the interpreter's start, the warehouse copy
    and the Dagster definitions (until the first stage), the ingest stage (Dagster steps; no
    file is new in this scenario), dbt's start, parse and the events Dagster records, then the
    summary, checkpoint, publish and exit.
    """
    marks, stages = info.get("marks", {}), info.get("stages", {})
    nodes = info.get("dbt", {}).get("elapsed_s", 0.0)
    dbt_stage = stages.get("dbt build", 0.0)
    start = marks.get("first_stage_at", 0.0) - marks.get("process_started_at", 0.0)
    ingest = stages.get("ingest", 0.0)
    return {
        "wall_s": wall_s,
        "dbt_nodes_s": nodes,
        "fixed_s": wall_s - nodes,
        "start_copy_definitions_s": start,
        "ingest_stage_s": ingest,
        "dbt_start_parse_events_s": dbt_stage - nodes,
        "summary_publish_exit_s": wall_s - start - ingest - dbt_stage,
    }


def bench_fixed(runs: int) -> dict:
    """The fixed cost of a build on the bundled sample: the sample is built once (not
    measured), then rebuilt ``runs`` times with nothing new delivered, each in a fresh process
    like ``custodia build``; every figure is the median over the runs. ``cpu_s`` (user + system
    CPU of the whole process tree, dbt's subprocess included) does not grow with other work on
    the machine as the wall times do."""
    sample = settings.PROJECT_ROOT / "data" / "sample"
    work = CACHE / "fixed-sample.duckdb"
    info = CACHE / "fixed-sample.json"
    env = {"DAGSTER_HOME": ""}
    remove_db(work)
    cmd = _build_cmd(sample, work, info)
    run_measured(cmd, env)
    splits, measures = [], []
    for _ in range(runs):
        m = run_measured(cmd, env)
        measures.append(m)
        splits.append({**fixed_split(m.seconds, json.loads(info.read_text())), "cpu_s": m.cpu_s})
    remove_db(work)
    result = {k: statistics.median(s[k] for s in splits) for k in splits[0]}
    result["min_fixed_s"] = min(s["fixed_s"] for s in splits)
    result["max_fixed_s"] = max(s["fixed_s"] for s in splits)
    result["peak_rss_mib"] = max(m.peak_rss_mib for m in measures)
    result["load"] = max(m.load for m in measures)
    return result


# ---------------------------------------------------------------------------- re-delivery

# entity -> (key columns, the status column, {old status: new status}): the changes a source
# system re-exports most, an event line whose usage changed and a transfer that got accepted
REDELIVERED = {
    "transfers": (("transfer_id",), "status", {"PENDING": "ACCEPTED", "HOLD": "ACCEPTED"}),
    "event_lines": (("event_id", "line_no"), "usage_status", {"UNUSED": "USED"}),
}


def make_redelivery(before: Path, dst: Path, share: float = 0.001) -> Path:
    """A landing folder: ``before`` plus one delivery per entity of ``REDELIVERED`` carrying a
    newer version of about ``share`` of its existing keys (picked by a hash of the key, among
    the keys whose status changes), with ``updated_at`` one hour after the newest in ``before``
    (so the new version wins) and the status moved on (a transfer accepted gets its
    ``responded_at``)."""
    import polars as pl

    if (dst / ".complete").exists():
        return dst
    shutil.rmtree(dst, ignore_errors=True)
    for d in sorted(p for p in before.iterdir() if p.is_dir() and not p.name.startswith("_")):
        (dst / d.name).mkdir(parents=True, exist_ok=True)
        files = sorted(d.glob("*.csv"))
        for f in files:
            (dst / d.name / f.name).symlink_to(f.resolve())
        if d.name not in REDELIVERED or not files:
            continue
        key, status, moves = REDELIVERED[d.name]
        rows = pl.concat([pl.read_csv(f, infer_schema=False) for f in files], how="diagonal")
        newest = rows.select(pl.col("updated_at").str.slice(0, 19).max()).item()
        bumped = (
            pl.lit(newest).str.to_datetime("%Y-%m-%dT%H:%M:%S") + pl.duration(hours=1)
        ).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        keyed = pl.concat_str([pl.col(k).fill_null("") for k in key], separator="|")
        picked = (
            rows.unique(subset=list(key), keep="last", maintain_order=True)
            .filter(pl.col(status).is_in(list(moves)))
            .filter(keyed.hash(seed=SEED) % round(1 / share) == 0)
            .with_columns(
                pl.col(status).replace(moves).alias(status),
                bumped.alias("updated_at"),
            )
        )
        if "responded_at" in picked.columns:
            picked = picked.with_columns(pl.col("updated_at").alias("responded_at"))
        stem = files[-1].stem[: -len(files[-1].stem.split("_")[-1])]
        picked.select(rows.columns).write_csv(dst / d.name / f"{stem}9998.csv")
    (dst / ".complete").write_text("")
    return dst


def bench_redelivery(scale: str, runs: int, full: dict | None) -> dict:
    """A build after a re-delivery of ~0.1% of existing keys (``make_redelivery``) on the
    incremental stage's base warehouse (all but the last day), vs the full build."""
    before, _ = split_last_day(generated(scale), CACHE / f"incremental-{scale}")
    redelivered = make_redelivery(before, CACHE / f"redelivery-{scale}")
    return _build_on_base(scale, before, redelivered, "redelivery", runs, full)

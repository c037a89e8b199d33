"""``make bench``: measured figures, separate from the tests.

Every figure comes from a subprocess whose wall time and peak memory (sum of the RSS of the
whole process tree, sampled every 50 ms from /proc) are measured here. Baselines are measured in
the same run on the same files, so ratios compare like with like. Results go to
``docs/benchmarks.md``.

Environment: ``BENCH_SCALES`` (default ``tiny,small,medium``), ``BENCH_LARGE=1`` adds ``large``,
``BENCH_RUNS`` (default 1) repeats each measurement and reports the median and range.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from orchestration import settings

CACHE = settings.PROJECT_ROOT / "data" / "bench"
REPORT = settings.PROJECT_ROOT / "docs" / "benchmarks.md"
SEED = 11


@dataclass
class Measure:
    seconds: float
    peak_rss_mib: float


def _tree_rss_kib(root: int) -> int:
    """Sum of VmRSS over ``root`` and all its descendants."""
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def run_measured(cmd: list[str], env: dict | None = None) -> Measure:
    """Run ``cmd``; return wall seconds and the peak RSS of its process tree."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kib(proc.pid))
            done.wait(0.05)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    rc = proc.wait()
    seconds = time.perf_counter() - start
    done.set()
    t.join()
    if rc != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {rc}")
    return Measure(seconds, peak / 1024)


def repeat(cmd: list[str], runs: int, env: dict | None = None) -> dict:
    ms = [run_measured(cmd, env) for _ in range(runs)]
    secs = [m.seconds for m in ms]
    return {
        "median_s": statistics.median(secs),
        "min_s": min(secs),
        "max_s": max(secs),
        "peak_rss_mib": max(m.peak_rss_mib for m in ms),
    }


def _py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def generated(scale: str) -> Path:
    """The cached export of ``scale`` (generated on first use)."""
    out = CACHE / f"{scale}-seed{SEED}"
    if not (out / "_truth" / "figures.json").exists():
        subprocess.run(
            [sys.executable, "-m", "orchestration.cli", "generate", "--out", str(out),
             "--seed", str(SEED), "--scale", scale],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    return out


def bench_generate(scale: str, runs: int) -> dict:
    out = CACHE / f"gen-{scale}"
    cmd = [sys.executable, "-m", "orchestration.cli", "generate", "--out", str(out),
           "--seed", str(SEED), "--scale", scale]  # fmt: skip
    return repeat(cmd, runs)


def count_rows(folder: Path) -> int:
    import duckdb

    con = duckdb.connect()
    n = 0
    for f in sorted(folder.glob("*/*.csv")):
        if f.parent.name.startswith("_"):
            continue
        n += con.execute("select count(*) from read_csv(?, all_varchar=true)", [str(f)]).fetchone()[
            0
        ]
    return n


def bench_ingest(scale: str, runs: int) -> dict:
    """Ingest + validation of every file vs a bare ``duckdb read_csv`` load of the same files."""
    folder = generated(scale)
    work = CACHE / f"ingest-{scale}.duckdb"
    ours = _py(
        "import sys, duckdb, pathlib;"
        "from orchestration.contract import ENTITY_NAMES;"
        "from orchestration.ingest import ingest_entity;"
        f"p=pathlib.Path({str(work)!r}); p.unlink(missing_ok=True);"
        "con=duckdb.connect(str(p));"
        f"[ingest_entity(con, pathlib.Path({str(folder)!r}), e) for e in ENTITY_NAMES]"
    )
    bare = _py(
        "import duckdb, pathlib;"
        f"p=pathlib.Path({str(work)!r}); p.unlink(missing_ok=True);"
        "con=duckdb.connect(str(p));"
        f"root=pathlib.Path({str(folder)!r});"
        "[con.execute(f'create table {d.name} as select * from read_csv(?)',"
        ' [str(d / "*.csv")]) for d in sorted(root.iterdir())'
        " if d.is_dir() and not d.name.startswith('_')]"
    )
    rows = count_rows(folder)
    result = {"rows": rows, "custodia": repeat(ours, runs), "bare_duckdb": repeat(bare, runs)}
    result["rows_per_s"] = rows / result["custodia"]["median_s"]
    result["ratio_to_bare"] = result["custodia"]["median_s"] / result["bare_duckdb"]["median_s"]
    work.unlink(missing_ok=True)
    return result


def bench_build(scale: str, runs: int) -> dict:
    folder = generated(scale)
    work = CACHE / f"build-{scale}.duckdb"
    cmd = _py(
        "import pathlib;"
        "from orchestration.build import run_build;"
        f"p=pathlib.Path({str(work)!r}); p.unlink(missing_ok=True);"
        f"r=run_build(pathlib.Path({str(folder)!r}), p, echo=lambda s: None);"
        "raise SystemExit(0 if r.ok else 1)"
    )
    result = repeat(cmd, runs, env={"DAGSTER_HOME": ""})
    work.unlink(missing_ok=True)
    return result


def machine() -> str:
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    py = platform.python_version()
    return f"{os.cpu_count()} cores, {mem_gib:.0f} GiB, {platform.machine()}, Python {py}"


def write_report(results: dict) -> None:
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
        f"Machine: {machine()}. Runs per figure: {results['runs']} (median, range).",
        "Peak memory is the sum of RSS over the measured process tree.",
        "",
        "## Generator (`custodia generate`)",
        "",
        "| scale | median s | range s | peak MiB |",
        "|---|---|---|---|",
    ]
    for scale, r in results["generate"].items():
        lines.append(
            f"| {scale} | {r['median_s']:.1f} | {r['min_s']:.1f}–{r['max_s']:.1f} | "
            f"{r['peak_rss_mib']:.0f} |"
        )
    if results.get("ingest"):
        lines += [
            "",
            "## Ingest and validation vs a bare DuckDB `read_csv` load (same files, same run)",
            "",
            "| scale | rows | custodia s | rows/s | peak MiB | bare duckdb s | ratio |",
            "|---|---|---|---|---|---|---|",
        ]
        for scale, r in results["ingest"].items():
            lines.append(
                f"| {scale} | {r['rows']:,} | {r['custodia']['median_s']:.1f} | "
                f"{r['rows_per_s']:,.0f} | {r['custodia']['peak_rss_mib']:.0f} | "
                f"{r['bare_duckdb']['median_s']:.1f} | {r['ratio_to_bare']:.1f}× |"
            )
    if results.get("build"):
        lines += [
            "",
            "## Full `custodia build` (ingest + dbt build, into an empty warehouse)",
            "",
            "| scale | median s | range s | peak MiB |",
            "|---|---|---|---|",
        ]
        for scale, r in results["build"].items():
            lines.append(
                f"| {scale} | {r['median_s']:.1f} | {r['min_s']:.1f}–{r['max_s']:.1f} | "
                f"{r['peak_rss_mib']:.0f} |"
            )
    REPORT.write_text("\n".join(lines) + "\n")


def main() -> int:
    scales = os.environ.get("BENCH_SCALES", "tiny,small,medium").split(",")
    if os.environ.get("BENCH_LARGE") == "1" and "large" not in scales:
        scales.append("large")
    stages = os.environ.get("BENCH_STAGES", "generate,ingest,build").split(",")
    runs = int(os.environ.get("BENCH_RUNS", "1"))
    CACHE.mkdir(parents=True, exist_ok=True)
    results: dict = {"runs": runs, "generate": {}, "ingest": {}, "build": {}}
    for scale in scales:
        for stage, fn in (("generate", bench_generate), ("ingest", bench_ingest),
                          ("build", bench_build)):  # fmt: skip
            if stage not in stages:
                continue
            print(f"bench {stage} {scale} ...", flush=True)
            results[stage][scale] = fn(scale, runs)
            print(f"  {json.dumps(results[stage][scale])}", flush=True)
            write_report(results)
    print(f"wrote {REPORT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The figures of ``docs/benchmarks.md``, spliced between its markers.

The doc is written by hand except for the blocks between marker lines
``<!-- bench:NAME:start -->`` and ``<!-- bench:NAME:end -->``: ``figures`` renders one block per
name (``BLOCKS``) from the results, ``splice`` puts them in place and leaves every other line
as it was, and refuses a doc that lacks a marker pair.
"""

from __future__ import annotations

import os
import platform
import re
import time
from collections.abc import Mapping
from pathlib import Path

from orchestration import settings
from orchestration.bench import CORE_MARTS

REPORT = settings.PROJECT_ROOT / "docs" / "benchmarks.md"
# one block per name, in the order of the doc
BLOCKS = (
    "run",
    "fixed",
    "generate",
    "ingest",
    "build",
    "baselines",
    "floor",
    "slowest",
    "engines",
    "incremental",
    "redelivery",
    "dashboard",
    "dashboard_under_load",
    "notes",
)
MARKER = re.compile(r"^<!-- bench:(?P<name>[a-z_]+):(?P<edge>start|end) -->$", re.M)
NOT_MEASURED = "_Not measured yet._"


class MarkerError(ValueError):
    """The doc lacks (or repeats, or misorders) the markers of a block the bench writes."""


def splice(doc: str, blocks: Mapping[str, str]) -> str:
    """``doc`` with the lines between the markers of each block of ``blocks`` replaced by the
    block's text; everything outside the markers (and any block not named) is kept as is."""
    spans: dict[str, dict[str, list[re.Match]]] = {}
    for m in MARKER.finditer(doc):
        spans.setdefault(m["name"], {"start": [], "end": []})[m["edge"]].append(m)
    problems = []
    for name in blocks:
        found = spans.get(name, {"start": [], "end": []})
        starts, ends = found["start"], found["end"]
        if len(starts) != 1 or len(ends) != 1:
            problems.append(f"{name} ({len(starts)} start, {len(ends)} end)")
        elif ends[0].start() < starts[0].end():
            problems.append(f"{name} (end before start)")
    if problems:
        raise MarkerError(
            "the doc needs exactly one `<!-- bench:NAME:start -->` line and one "
            "`<!-- bench:NAME:end -->` line after it for every block the bench writes; "
            "wrong for: " + ", ".join(problems)
        )
    ordered = sorted(blocks, key=lambda n: spans[n]["start"][0].start())
    out, pos = [], 0
    for name in ordered:
        start, end = spans[name]["start"][0], spans[name]["end"][0]
        if start.start() < pos:
            raise MarkerError(f"the markers of {name} overlap another block's")
        text = blocks[name].strip("\n")
        out += [doc[pos : start.end()], f"\n\n{text}\n\n" if text else "\n"]
        pos = end.start()
    return "".join(out) + doc[pos:]


def measured_blocks(blocks: Mapping[str, str]) -> dict[str, str]:
    """The blocks that hold figures: a stage this run (and the kept results) did not measure
    leaves the doc's block as it is, so a partial ``make bench`` never blanks earlier figures."""
    return {name: text for name, text in blocks.items() if text.strip() != NOT_MEASURED}


def write_report(results: dict, path: Path = REPORT) -> None:
    """Splice the measured figures of ``results`` into the doc at ``path``."""
    path.write_text(splice(path.read_text(), measured_blocks(figures(results))))


def check_report(path: Path = REPORT) -> None:
    """Raise ``MarkerError`` now rather than after the measurements when the doc cannot take
    the figures."""
    splice(path.read_text(), dict.fromkeys(BLOCKS, ""))


def machine() -> str:
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    py = platform.python_version()
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import duckdb

    return (
        f"{os.cpu_count()} cores ({cpu or platform.processor() or 'unknown CPU'}), "
        f"{mem_gib:.0f} GiB RAM, {platform.system()} {platform.machine()}, Python {py}, "
        f"DuckDB {duckdb.__version__}"
    )


def _rng(r: dict) -> str:
    return f"{r['min_s']:.1f}–{r['max_s']:.1f}"


def _baseline_rows(build: dict) -> list[tuple[str, float, dict]]:
    """(mart, dbt ancestry seconds, {implementation: measure}) of one build result. Results
    kept from before the baselines covered several marts (one float, one dict of
    implementations) were the custody mart's."""
    core, baselines = build.get("core_models_s", {}), build.get("baselines", {})
    if not isinstance(core, dict):
        core, baselines = {CORE_MARTS[0]: core}, {CORE_MARTS[0]: baselines}
    return [(mart, core.get(mart, 0.0), baselines.get(mart, {})) for mart in CORE_MARTS]


def runs_by_scale(results: dict) -> dict:
    runs = results.get("runs", {})
    return runs if isinstance(runs, dict) else {}


def _table(header: list[str], rows: list[str]) -> str:
    if not rows:
        return NOT_MEASURED
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *rows]
    return "\n".join(lines)


def figures(results: dict, now: float | None = None) -> dict[str, str]:
    """The text of every block (``BLOCKS``) from the results of ``runner``."""
    runs = ", ".join(f"{n} on {scale}" for scale, n in runs_by_scale(results).items())
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(now))
    blocks = {
        "run": f"Measured on {stamp}. Machine: {machine()}. Runs per figure: {runs} "
        "(median, range min–max).",
        "fixed": _fixed(results.get("fixed", {})),
        "generate": _table(
            ["scale", "seconds", "peak MiB"],
            [
                f"| {scale} | {r['seconds']:.1f} | {r['peak_rss_mib']:.0f} |"
                for scale, r in results.get("generate", {}).items()
                if r
            ],
        ),
        "ingest": _ingest(results.get("ingest", {})),
        "build": _build(results.get("build", {})),
        "baselines": _baselines(results.get("build", {})),
        "floor": _floor(results.get("floor", {})),
        "slowest": "\n\n".join(
            f"Slowest dbt models ({scale}): "
            + ", ".join(f"`{n}` {s:.1f} s" for n, s in r["dbt"]["slowest_models"])
            + "."
            for scale, r in results.get("build", {}).items()
            if r.get("dbt", {}).get("slowest_models")
        ),
        "engines": _engines(results.get("engines", {})),
        "incremental": _incremental(results.get("incremental", {})),
        "redelivery": _redelivery(results.get("redelivery", {})),
        "dashboard": _table(
            ["scale", "page", "p50 ms", "p95 ms"],
            [
                f"| {scale} | {page} | {p['p50_ms']:.0f} | {p['p95_ms']:.0f} |"
                for scale, r in results.get("dashboard", {}).items()
                for page, p in r.get("pages", {}).items()
            ],
        ),
        "dashboard_under_load": _table(
            [
                "scale",
                "page",
                "p50 ms quiet",
                "p50 ms under load",
                "p95 ms quiet",
                "p95 ms under load",
                "hostile queries stopped",
            ],  # fmt: skip
            [
                f"| {scale} | {page} | {r['pages'][page]['p50_ms']:.0f} | {p['p50_ms']:.0f} | "
                f"{r['pages'][page]['p95_ms']:.0f} | {p['p95_ms']:.0f} | "
                f"{len(r.get('hostile_stopped', []))} |"
                for scale, r in results.get("dashboard", {}).items()
                for page, p in r.get("under_load", {}).items()
            ],
        ),
        "notes": "\n".join(["## Notes", ""] + [f"- {n}" for n in results["notes"]])
        if results.get("notes")
        else "",
    }
    return blocks


def _ingest(ingest: dict) -> str:
    header = ["scale", "rows", "custodia s (range)", "rows/s", "peak MiB", "bare s (range)",
              "bare rows/s", "bare peak MiB", "ratio", "load"]  # fmt: skip
    rows = []
    for scale, r in ingest.items():
        c, b = r["custodia"], r["bare_duckdb"]
        rows.append(
            f"| {scale} | {r['rows']:,} | {c['median_s']:.1f} ({_rng(c)}) | "
            f"{r['rows_per_s']:,.0f} | {c['peak_rss_mib']:.0f} | "
            f"{b['median_s']:.1f} ({_rng(b)}) | {r['bare_rows_per_s']:,.0f} | "
            f"{b['peak_rss_mib']:.0f} | {r['ratio_to_bare']:.2f}× | "
            f"{max(c.get('load', 0), b.get('load', 0)):.1f} |"
        )
    return _table(header, rows)


def _build(build: dict) -> str:
    header = ["scale", "total s (range)", "peak MiB", "ingest s", "dbt s", "dbt models s",
              "dbt tests s", "load"]  # fmt: skip
    rows = [
        f"| {scale} | {r['median_s']:.1f} ({_rng(r)}) | {r['peak_rss_mib']:.0f} | "
        f"{r['ingest_s']:.1f} | {r['dbt_s']:.1f} | {r['dbt_models_s']:.1f} | "
        f"{r['dbt_tests_s']:.1f} | {r.get('load', 0):.1f} |"
        for scale, r in build.items()
    ]
    return _table(header, rows)


def _baselines(build: dict) -> str:
    header = ["scale", "mart", "dbt models s", "DuckDB script s (peak MiB)", "dbt ÷ script",
              "pandas s (peak MiB)", "pandas ÷ dbt"]  # fmt: skip
    rows = []
    for scale, r in build.items():
        for mart, core, b in _baseline_rows(r):
            sql, pdx = b.get("duckdb_sql"), b.get("pandas")
            if not sql or not pdx or not core:
                continue
            rows.append(
                f"| {scale} | `{mart}` | {core:.1f} | {sql['median_s']:.1f} "
                f"({sql['peak_rss_mib']:.0f}) | {core / sql['median_s']:.2f}× | "
                f"{pdx['median_s']:.1f} ({pdx['peak_rss_mib']:.0f}) | "
                f"{pdx['median_s'] / core:.2f}× |"
            )
    return _table(header, rows)


def _floor(floor: dict) -> str:
    header = ["scale", "build s (range)", "build peak MiB", "floor s (range)", "floor peak MiB",
              "build ÷ floor", "floor at the build's 3 GB s (peak MiB)", "build ÷ that",
              "load"]  # fmt: skip
    rows = []
    for scale, r in floor.items():
        if not r:
            continue
        budget = r.get("floor_build_budget")
        at_budget = (
            f"{budget['median_s']:.1f} ({budget['peak_rss_mib']:.0f}) | "
            f"{r['ratio_build_to_budget_floor']:.2f}×"
            if budget
            else "not measured | "
        )
        load = max(x.get("load", 0) for x in (r["build"], r["floor"], budget or {}))
        rows.append(
            f"| {scale} | {r['build']['median_s']:.1f} ({_rng(r['build'])}) | "
            f"{r['build']['peak_rss_mib']:.0f} | {r['floor']['median_s']:.1f} "
            f"({_rng(r['floor'])}) | {r['floor']['peak_rss_mib']:.0f} | "
            f"{r['ratio_build_to_floor']:.2f}× | {at_budget} | {load:.1f} |"
        )
    return _table(header, rows)


def _engines(engines: dict) -> str:
    header = ["scale", "rows", "engine", "total s (range)", "peak MiB", "ingest s", "dbt s",
              "dbt rows/s per core", "load"]  # fmt: skip
    rows = []
    for scale, r in engines.items():
        for engine in ("duckdb", "spark"):
            e = r.get(engine)
            if not e:
                continue
            rows.append(
                f"| {scale} | {r['rows']:,} | {engine} | {e['median_s']:.1f} ({_rng(e)}) | "
                f"{e['peak_rss_mib']:.0f} | {e['ingest_s']:.1f} | {e['dbt_s']:.1f} | "
                f"{e['rows_per_core_s']:,.0f} | {e.get('load', 0):.1f} |"
            )
    return _table(header, rows)


def _incremental(incremental: dict) -> str:
    header = ["scale", "new rows", "incremental s (range)", "peak MiB", "ingest s", "dbt s",
              "models busy s", "tests busy s", "full build s", "ratio",
              "warehouse copy s (MiB)", "load"]  # fmt: skip
    rows = []
    for scale, r in incremental.items():
        i, dbt = r["incremental"], r.get("dbt", {})
        rows.append(
            f"| {scale} | {r['new_rows']:,} | {i['median_s']:.1f} ({_rng(i)}) | "
            f"{i['peak_rss_mib']:.0f} | {r['stages'].get('ingest', 0):.1f} | "
            f"{r['stages'].get('dbt build', 0):.1f} | {dbt.get('models_busy_s', 0):.1f} | "
            f"{dbt.get('tests_busy_s', 0):.1f} | {r.get('full_s', 0):.1f} | "
            f"{r.get('ratio_to_full', 0):.0%} | {r.get('copy_s', 0):.1f} "
            f"({r.get('warehouse_mib', 0):.0f}) | {i.get('load', 0):.1f} |"
        )
    return _table(header, rows)


def _fixed(fixed: dict) -> str:
    header = ["data", "wall s", "dbt nodes s", "fixed s (range)", "start, copy, definitions s",
              "ingest stage s", "dbt start, parse, events s", "summary, publish, exit s",
              "CPU s (whole build)", "peak MiB", "load"]  # fmt: skip
    rows = [
        f"| {name} | {r['wall_s']:.1f} | {r['dbt_nodes_s']:.1f} | {r['fixed_s']:.1f} "
        f"({r['min_fixed_s']:.1f}–{r['max_fixed_s']:.1f}) | {r['start_copy_definitions_s']:.1f} | "
        f"{r['ingest_stage_s']:.1f} | {r['dbt_start_parse_events_s']:.1f} | "
        f"{r['summary_publish_exit_s']:.1f} | {r.get('cpu_s', 0):.1f} | {r['peak_rss_mib']:.0f} | "
        f"{r.get('load', 0):.1f} |"
        for name, r in fixed.items()
    ]
    return _table(header, rows)


def _redelivery(redelivery: dict) -> str:
    header = ["scale", "re-delivered rows", "build s (range)", "peak MiB", "ingest s", "dbt s",
              "models busy s", "tests busy s", "full build s", "ratio", "load"]  # fmt: skip
    rows = []
    for scale, r in redelivery.items():
        i, dbt = r["incremental"], r.get("dbt", {})
        rows.append(
            f"| {scale} | {r['new_rows']:,} | {i['median_s']:.1f} ({_rng(i)}) | "
            f"{i['peak_rss_mib']:.0f} | {r['stages'].get('ingest', 0):.1f} | "
            f"{r['stages'].get('dbt build', 0):.1f} | {dbt.get('models_busy_s', 0):.1f} | "
            f"{dbt.get('tests_busy_s', 0):.1f} | {r.get('full_s', 0):.1f} | "
            f"{r.get('ratio_to_full', 0):.0%} | {i.get('load', 0):.1f} |"
        )
    return _table(header, rows)

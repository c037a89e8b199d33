"""``python -m orchestration.bench [options]``: run the selected stages on the selected scales.

Figures are kept in ``data/bench/results.json``: a run replaces the figures it measures and
keeps the others (other scales, other stages), then rewrites the figures of
``docs/benchmarks.md`` and the chart.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass

from orchestration.bench import CACHE, SCALES, STAGES

RESULTS = CACHE / "results.json"


@dataclass(frozen=True)
class Options:
    scales: tuple[str, ...] = ("small", "medium")
    stages: tuple[str, ...] = STAGES
    runs: int = 1
    regenerate: bool = False
    dashboard_repeats: int = 20


def _choices(allowed: Sequence[str]):
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(s for s in text.split(",") if s)
        unknown = [s for s in names if s not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"{text!r}: a comma-separated list of {', '.join(allowed)}"
            )
        return names

    return parse


def _positive(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text}: at least 1")
    return n


def build_parser() -> argparse.ArgumentParser:
    default = Options()
    parser = argparse.ArgumentParser(
        prog="python -m orchestration.bench",
        description="Measure generate, ingest, build, incremental build and dashboard queries; "
        "write the figures into docs/benchmarks.md and the chart docs/benchmarks.png.",
    )
    parser.add_argument(
        "--scales",
        type=_choices(SCALES),
        default=default.scales,
        help=f"comma-separated scales (default {','.join(default.scales)})",
    )
    parser.add_argument("--large", action="store_true", help="add the large scale")
    parser.add_argument(
        "--stages",
        type=_choices(STAGES),
        default=default.stages,
        help=f"comma-separated stages (default all: {','.join(STAGES)})",
    )
    parser.add_argument(
        "--runs",
        type=_positive,
        default=default.runs,
        help="runs per figure: median and range (default %(default)s)",
    )
    parser.add_argument(
        "--regenerate",
        action="store_true",
        help="generate the exports again instead of reusing data/bench",
    )
    parser.add_argument(
        "--dashboard-repeats",
        type=_positive,
        default=default.dashboard_repeats,
        help="times each page's queries run for p50/p95 (default %(default)s)",
    )
    return parser


def parse_options(argv: Sequence[str] | None = None) -> Options:
    args = build_parser().parse_args(argv)
    scales = args.scales + (("large",) if args.large and "large" not in args.scales else ())
    return Options(
        scales=scales,
        stages=args.stages,
        runs=args.runs,
        regenerate=args.regenerate,
        dashboard_repeats=args.dashboard_repeats,
    )


def run(options: Options) -> dict:
    """Measure, keep the results, rewrite the doc's figures and the chart."""
    from orchestration.bench import report, stages
    from orchestration.bench.chart import CHART, write_chart
    from orchestration.bench.dashboard import bench_dashboard

    report.check_report()  # a doc without its markers fails now, not after an hour of runs
    CACHE.mkdir(parents=True, exist_ok=True)
    keep = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    # runs per scale: a large scale may be measured fewer times than the others
    runs = {**report.runs_by_scale(keep), **dict.fromkeys(options.scales, options.runs)}
    results: dict = {"runs": runs}
    for stage in STAGES:
        # figures not rerun (other scales, other stages) keep their previous values
        results[stage] = keep.get(stage, {})
    results["notes"] = keep.get("notes", [])
    if "fixed" in options.stages:
        print("bench fixed sample ...", flush=True)
        results["fixed"]["sample"] = stages.bench_fixed(max(options.runs, 3))
        print(f"  {json.dumps(results['fixed']['sample'], default=str)[:600]}", flush=True)
        RESULTS.write_text(json.dumps(results, indent=1, default=str))
        report.write_report(results)
    for scale in options.scales:
        if options.regenerate:
            stages.forget_generated(scale)
        for stage in STAGES:
            if stage not in options.stages or stage == "fixed":
                continue
            print(f"bench {stage} {scale} ...", flush=True)
            if stage == "generate":
                figures = stages.bench_generate(scale, options.runs)
            elif stage == "ingest":
                figures = stages.bench_ingest(scale, options.runs)
            elif stage == "build":
                figures = stages.bench_build(scale, options.runs)
            elif stage == "floor":
                figures = stages.bench_floor(scale, options.runs)
            elif stage == "engines":
                figures = stages.bench_engines(scale, options.runs)
            elif stage == "incremental":
                full = results["build"].get(scale)
                figures = stages.bench_incremental(scale, options.runs, full)
            elif stage == "redelivery":
                full = results["build"].get(scale)
                figures = stages.bench_redelivery(scale, options.runs, full)
            else:
                figures = bench_dashboard(scale, options.dashboard_repeats)
            results[stage][scale] = figures
            print(f"  {json.dumps(figures, default=str)[:600]}", flush=True)
            RESULTS.write_text(json.dumps(results, indent=1, default=str))
            report.write_report(results)
    write_chart(results)
    print(f"wrote {report.REPORT} and {CHART}")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    run(parse_options(argv))
    return 0

"""The bench's options and its report: figures go between the markers of docs/benchmarks.md,
the hand-written prose around them stays as it is."""

from __future__ import annotations

import re

import pytest

from orchestration.bench import CORE_MARTS, STAGES
from orchestration.bench.report import (
    BLOCKS,
    NOT_MEASURED,
    REPORT,
    MarkerError,
    figures,
    splice,
    write_report,
)
from orchestration.bench.runner import Options, parse_options

DOC = """# Title

Prose before.

<!-- bench:a:start -->
old a
<!-- bench:a:end -->

Prose between, naming `<!-- bench:a:start -->` inline (not a marker).

<!-- bench:b:start -->
<!-- bench:b:end -->
Prose after.
"""


def test_splice_replaces_only_the_lines_between_markers():
    new = splice(DOC, {"a": "new a\n", "b": "| t |\n|---|"})
    assert new == DOC.replace("old a", "\nnew a\n").replace(
        "<!-- bench:b:start -->\n", "<!-- bench:b:start -->\n\n| t |\n|---|\n\n"
    )
    assert splice(new, {"a": "new a\n", "b": "| t |\n|---|"}) == new  # idempotent
    assert splice(new, {"a": "old a"}).count("| t |") == 1  # blocks not named are kept


def test_splice_empties_a_block():
    assert "<!-- bench:a:start -->\n<!-- bench:a:end -->" in splice(DOC, {"a": ""})


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        (DOC.replace("<!-- bench:b:start -->\n", ""), "b (0 start, 1 end)"),
        (DOC.replace("<!-- bench:a:end -->", "<!-- bench:b:end -->"), "a (1 start, 0 end)"),
        (DOC + "<!-- bench:a:start -->\n", "a (2 start, 1 end)"),
        (
            "<!-- bench:a:end -->\n<!-- bench:a:start -->\n<!-- bench:b:start -->\n"
            "<!-- bench:b:end -->\n",
            "a (end before start)",
        ),
        ("# no markers\n", "a (0 start, 0 end), b (0 start, 0 end)"),
    ],
)
def test_splice_refuses_a_doc_without_its_markers(doc, reason):
    with pytest.raises(MarkerError, match=re.escape("wrong for: " + reason)):
        splice(doc, {"a": "x", "b": "y"})


def test_splice_refuses_overlapping_blocks():
    doc = "<!-- bench:a:start -->\n<!-- bench:b:start -->\n<!-- bench:a:end -->\n"
    with pytest.raises(MarkerError, match="overlap"):
        splice(doc + "<!-- bench:b:end -->\n", {"a": "x", "b": "y"})


def _results() -> dict:
    measure = {"median_s": 2.0, "min_s": 1.5, "max_s": 2.5, "peak_rss_mib": 100.0, "load": 0.5}
    return {
        "runs": {"tiny": 1},
        "generate": {"tiny": {"seconds": 1.0, "peak_rss_mib": 50.0}},
        "ingest": {
            "tiny": {
                "rows": 1000,
                "custodia": measure,
                "bare_duckdb": measure,
                "rows_per_s": 500.0,
                "bare_rows_per_s": 500.0,
                "ratio_to_bare": 1.0,
            }
        },
        "build": {
            "tiny": {
                **measure,
                "ingest_s": 1.0,
                "dbt_s": 1.0,
                "dbt_models_s": 0.8,
                "dbt_tests_s": 0.2,
                "core_models_s": dict.fromkeys(CORE_MARTS, 0.5),
                "baselines": {m: {"duckdb_sql": measure, "pandas": measure} for m in CORE_MARTS},
                "dbt": {"slowest_models": [["stg_transfers", 0.3]]},
            }
        },
        "floor": {"tiny": {"build": measure, "floor": measure, "ratio_build_to_floor": 1.0}},
        "incremental": {},
        "dashboard": {"tiny": {"pages": {"overview": {"p50_ms": 10.0, "p95_ms": 12.0}}}},
        "notes": [],
    }


def test_the_doc_takes_the_figures_and_keeps_its_prose():
    doc = REPORT.read_text()
    blocks = figures(_results(), now=0)
    assert tuple(blocks) == BLOCKS
    new = splice(doc, blocks)
    assert "Measured on 1970-01-01 00:00 UTC." in new and "Runs per figure: 1 on tiny" in new
    assert "| tiny | `fct_event_lines` | 0.5 | 2.0 (100) | 0.25× | 2.0 (100) | 4.00× |" in new
    assert "Slowest dbt models (tiny): `stg_transfers` 0.3 s." in new
    assert "| tiny | overview | 10 | 12 |" in new
    assert NOT_MEASURED in new  # the incremental table
    assert "## Notes" not in new
    for prose in ("## What limits these figures", "**Ingest is bound by DuckDB's write path.**",
                  "The bare load auto-detects types"):  # fmt: skip
        assert new.count(prose) == doc.count(prose) == 1
    outside = [line for line in doc.splitlines() if line and not line.startswith("|")]
    outside = [line for line in outside if not line.startswith(("Measured on", "Slowest dbt"))]
    assert all(line in new.splitlines() for line in outside)


def test_a_partial_run_keeps_the_figures_it_did_not_measure(tmp_path):
    doc = tmp_path / "benchmarks.md"
    before = splice(REPORT.read_text(), {"incremental": "| earlier | figures |"})
    doc.write_text(before)
    write_report(_results(), path=doc)
    after = doc.read_text()
    assert "| earlier | figures |" in after  # the incremental stage did not run: kept
    assert "| tiny | overview | 10 | 12 |" in after  # the dashboard stage ran: written
    floor_row = (
        "| tiny | 2.0 (1.5–2.5) | 100 | 2.0 (1.5–2.5) | 100 | 1.00× | not measured |  | 0.5 |"
    )
    assert floor_row in after  # floor
    assert NOT_MEASURED not in after


def test_options_are_arguments_with_the_old_defaults():
    assert parse_options([]) == Options(
        scales=("small", "medium"), stages=STAGES, runs=1, regenerate=False, dashboard_repeats=20
    )
    assert parse_options(
        ["--scales", "small", "--large", "--runs", "3", "--stages", "build,dashboard"]
    ) == Options(scales=("small", "large"), stages=("build", "dashboard"), runs=3)
    assert parse_options(["--scales", "large", "--large"]).scales == ("large",)


@pytest.mark.parametrize(
    "argv", [["--scales", "huge"], ["--stages", "ingest,nope"], ["--runs", "0"], ["--scales", ""]]
)
def test_options_refuse_unknown_values(argv, capsys):
    with pytest.raises(SystemExit):
        parse_options(argv)
    assert "error" in capsys.readouterr().err

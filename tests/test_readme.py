"""The README stays true: its analyst query runs, the make targets and CLI flags it names exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from orchestration import settings
from orchestration.cli import build_parser

README = (settings.PROJECT_ROOT / "README.md").read_text()
MAKEFILE = (settings.PROJECT_ROOT / "Makefile").read_text()


def test_analyst_query_runs_on_the_sample_warehouse(sample_warehouse):
    block = re.search(r"<<'SQL'\n(.*?)\nSQL\n", README, re.S).group(1)
    code = block.replace("data/warehouse/custodia.duckdb", str(sample_warehouse))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "facility_id" in proc.stdout and "units_on_hand" in proc.stdout


def test_every_make_target_in_the_readme_exists():
    targets = set(re.findall(r"^([a-z-]+):", MAKEFILE, re.M))
    for name in set(re.findall(r"`make ([a-z-]+)", README)):
        assert name in targets, f"README names `make {name}` but the Makefile has no such target"


def test_every_cli_subcommand_in_the_readme_exists():
    subcommands = build_parser()._subparsers._group_actions[0].choices
    for name in set(re.findall(r"custodia (\w+) ", README)):
        if name in {"is", "turns"}:
            continue
        assert name in subcommands, f"README names `custodia {name}`"


def test_every_doc_the_readme_names_exists():
    for path in set(re.findall(r"`((?:docs|dbt_project|data|orchestration)/[\w./-]+)`", README)):
        if path.startswith("data/warehouse"):
            continue  # written by the build
        assert (settings.PROJECT_ROOT / path).exists(), path


def test_every_bench_option_in_the_readme_exists():
    from orchestration.bench.runner import build_parser as bench_parser

    options = {o for action in bench_parser()._actions for o in action.option_strings}
    paragraphs = [p for p in README.split("\n\n") if "python -m orchestration.bench" in p]
    assert paragraphs
    for flag in set(re.findall(r"--[a-z-]+", "\n".join(paragraphs))):
        assert flag in options, f"README names `{flag}` for the bench"


def test_the_repository_stands_on_its_own():
    """No code or doc points outside the repository for its specification."""
    root = Path(__file__).resolve().parents[1]
    outside = ("DOMAIN" + ".md", "../" + "shared")  # spelt apart so this file does not match
    offenders = []
    for folder in ("orchestration", "dashboards", "dbt_project", "docs", "tests", ".ci"):
        for path in (root / folder).rglob("*"):
            if not path.is_file() or path.suffix in {".png", ".duckdb", ".parquet", ".pyc"}:
                continue
            if {"target", "logs", "__pycache__"} & set(path.relative_to(root).parts):
                continue
            text = path.read_text(errors="ignore")
            if any(o in text for o in outside):
                offenders.append(str(path.relative_to(root)))
    for name in ("README.md", "Makefile", "pyproject.toml"):
        text = (root / name).read_text()
        if any(o in text for o in outside):
            offenders.append(name)
    assert not offenders, offenders

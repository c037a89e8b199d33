"""The whole Dagster asset graph, pinned: every asset (key, group, upstream keys) and every
check, as text in `tests/asset_graph.txt`. A change to the graph (a model added, renamed or
moved, a test added or dropped) fails here until the file is regenerated, so it shows in review:

    CUSTODIA_PIN_ASSET_GRAPH=1 .venv/bin/python -m pytest tests/test_asset_graph.py
"""

from __future__ import annotations

import os
from pathlib import Path

PINNED = Path(__file__).with_name("asset_graph.txt")


def graph_text() -> str:
    from orchestration.definitions import defs

    lines = []
    for spec in sorted(defs.resolve_all_asset_specs(), key=lambda s: s.key.to_user_string()):
        deps = ",".join(sorted(d.asset_key.to_user_string() for d in spec.deps)) or "-"
        lines.append(f"asset {spec.key.to_user_string()} group={spec.group_name} deps={deps}")
    checks = sorted(
        (k.asset_key.to_user_string(), k.name) for k in defs.resolve_asset_graph().asset_check_keys
    )
    lines += [f"check {asset} {name}" for asset, name in checks]
    return "\n".join(lines) + "\n"


def test_asset_graph_matches_the_pinned_file():
    current = graph_text()
    if os.environ.get("CUSTODIA_PIN_ASSET_GRAPH") == "1":
        PINNED.write_text(current)
    assert PINNED.exists(), f"{PINNED.name} is missing: run with CUSTODIA_PIN_ASSET_GRAPH=1"
    pinned = PINNED.read_text()
    added = sorted(set(current.splitlines()) - set(pinned.splitlines()))
    removed = sorted(set(pinned.splitlines()) - set(current.splitlines()))
    assert current == pinned, (
        "the asset graph changed; review, then regenerate with CUSTODIA_PIN_ASSET_GRAPH=1.\n"
        f"added: {added}\nremoved: {removed}"
    )

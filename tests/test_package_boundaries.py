"""The shipped package does not depend on the benchmark harness: nothing outside
``orchestration/bench/`` imports it, and importing the product loads neither it nor Pillow
(the ``bench`` extra). pandas is not checked: the dashboard uses it (through Streamlit)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

from orchestration import settings

ORCHESTRATION = settings.PROJECT_ROOT / "orchestration"
HARNESS = ORCHESTRATION / "bench"

# what the product imports: the CLI, the build, the Dagster definitions and every dashboard
# module but the Streamlit scripts (app.py and views/ run only under `streamlit run`)
IMPORT_PRODUCT = """
import importlib, json, pkgutil, sys
import dashboards
modules = ["orchestration.cli", "orchestration.build", "orchestration.definitions"] + [
    m.name for m in pkgutil.walk_packages(dashboards.__path__, "dashboards.")
    if m.name != "dashboards.app" and not m.name.startswith("dashboards.views")
]
for name in modules:
    importlib.import_module(name)
print(json.dumps({"imported": modules, "loaded": sorted(sys.modules)}))
"""


def _harness_imports(path) -> list[str]:
    """Every import of the harness in ``path``, at module level or inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = [module] + [f"{module}.{a.name}" for a in node.names]
        else:
            continue
        found += [
            n for n in names if n == "orchestration.bench" or n.startswith("orchestration.bench.")
        ]
    return found


def test_nothing_outside_the_harness_imports_it():
    shipped = [p for p in ORCHESTRATION.rglob("*.py") if HARNESS not in p.parents]
    assert shipped
    offenders = {str(p.relative_to(ORCHESTRATION)): _harness_imports(p) for p in shipped}
    assert {p: names for p, names in offenders.items() if names} == {}
    mentions = [p for p in shipped if "orchestration.bench" in p.read_text()]
    assert mentions == []  # nor runs it (`-m orchestration.bench`, importlib)


def test_importing_the_product_loads_neither_the_harness_nor_pillow():
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_PRODUCT],
        capture_output=True, text=True, cwd=settings.PROJECT_ROOT, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "dashboards.queries" in out["imported"]
    loaded = out["loaded"]
    assert "orchestration.definitions" in loaded
    assert [
        m for m in loaded if m == "orchestration.bench" or m.startswith("orchestration.bench.")
    ] == []
    assert [m for m in loaded if m == "PIL" or m.startswith("PIL.")] == []

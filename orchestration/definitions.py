"""The Dagster code location ``orchestration.definitions`` (``[tool.dagster]`` in pyproject).

Every module in ``orchestration/defs/`` is loaded by Dagster's defs-folder loader: its
module-level assets, checks, sensors and schedules join the location without being listed
here. Resources are bound once, below. Nothing reads the environment at import time: the
resources resolve their paths when a run uses them.

Every job runs in one process (``in_process_executor``): DuckDB allows a single writing
process, so parallel step processes would only queue on the file lock.
"""

from __future__ import annotations

import warnings

import dagster as dg

import orchestration.defs
from orchestration import settings
from orchestration.resources import build_resources


def build_definitions() -> dg.Definitions:
    # ComponentTree.from_module is what dg.load_from_defs_folder does once it has found the
    # defs module in pyproject's [tool.dg.project]; naming the module here needs no dg config.
    tree = dg.ComponentTree.from_module(
        defs_module=orchestration.defs, project_root=settings.PROJECT_ROOT
    )
    with warnings.catch_warnings():
        # the loader calls its own preview helpers internally; that is not our code's concern
        warnings.simplefilter("ignore", dg.PreviewWarning)
        loaded = tree.build_defs()
    bound = dg.Definitions(resources=build_resources(), executor=dg.in_process_executor)
    return dg.Definitions.merge(loaded, bound)


defs = build_definitions()

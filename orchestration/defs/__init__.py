"""Dagster definitions, one module per concern; ``orchestration/definitions.py`` loads them all.

Every module-level asset, check, sensor and schedule in this folder is picked up by the
defs-folder loader, so a new module joins the code location without edits elsewhere.
Resources are defined once in ``orchestration/resources.py`` and bound in ``definitions.py``.
"""

"""Cells a spreadsheet would run as a formula, and how every download neutralises them.

One rule for every CSV the dashboard offers: the pages' downloads (built in `ui.safe_csv`) and
the SQL page's full downloads (streamed by its worker process, which imports only this module of
the dashboard's: standard library only).
"""

from __future__ import annotations

import re
from typing import Any

# = + - @ start a formula; a leading tab or CR can smuggle one in.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
FORMULA_PATTERN = "^[" + re.escape("".join(FORMULA_PREFIXES)) + "]"


def neutralise_cell(value: Any) -> Any:
    """Prefix text that a spreadsheet would run as a formula with a single quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value

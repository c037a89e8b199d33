"""Compare exception rows from different sources on the key convention columns."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from .rules import KEY_COLUMNS


def exception_key(row: dict) -> tuple:
    """(code, event_id, line_no, item_id, user_id, related_user_id, facility_id, transfer_id)
    with empty strings as None and line_no as int, whatever the source (oracle rows, a CSV,
    `marts.fct_exceptions`)."""
    out = []
    for col in KEY_COLUMNS:
        value = row.get(col)
        if value == "" or value is None:
            value = None
        elif col == "line_no":
            value = int(value)
        else:
            value = str(value)
        out.append(value)
    return tuple(out)


def diff_exceptions(expected: list[dict], actual: list[dict]) -> tuple[list[tuple], list[tuple]]:
    """Multiset difference on exception keys: (missing from actual, unexpected in actual)."""
    a = Counter(exception_key(r) for r in expected)
    b = Counter(exception_key(r) for r in actual)
    missing = sorted((a - b).elements(), key=_order)
    extra = sorted((b - a).elements(), key=_order)
    return missing, extra


def load_exceptions_csv(path: str | Path) -> list[dict]:
    """Rows of a CSV with the key columns (e.g. the generator's _truth/expected_exceptions.csv)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def load_exceptions_duckdb(path: str | Path) -> list[dict]:
    """Rows of `marts.fct_exceptions` (read-only)."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        cur = con.execute("select * from marts.fct_exceptions")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


def _order(key: tuple) -> tuple:
    return tuple((1, "") if v is None else (0, str(v)) for v in key)

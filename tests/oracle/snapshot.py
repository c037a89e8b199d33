"""Input normalisation and the snapshot rule (docs/architecture.md, "Delivery order").

Raw rows arrive as they sit in `raw.<entity>`: contract columns already typed plus the lineage
columns `_file_id` and `_row_number`. For hand-written test data the values are coerced leniently
(ISO strings to `datetime`, numbers to `Decimal`, 'true'/'false' to `bool`), and missing lineage
columns default to `_file_id = 0` and `_row_number = position in the list` (so a later row in the
list is the later delivery).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from orchestration.contract import ENTITIES

_MIN_TS = datetime.min


def to_ts(value: Any) -> datetime | None:
    """A naive-UTC datetime (offsets honoured and converted to UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        dt = datetime.fromisoformat(text)
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def to_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip()[:10])


def to_bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "t", "1", "yes"):
        return True
    if text in ("false", "f", "0", "no"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def to_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


def to_dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def to_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text != "" else None


_COERCE = {
    "id": to_str,
    "text": to_str,
    "enum": to_str,
    "timestamp": to_ts,
    "date": to_date,
    "boolean": to_bool,
    "integer": to_int,
    "money": to_dec,
    "rate": to_dec,
}


def normalise_rows(entity: str, rows: list[dict]) -> list[dict]:
    """Coerce contract columns to their logical Python types and fill lineage defaults."""
    spec = ENTITIES[entity]
    out = []
    for index, row in enumerate(rows):
        new = {}
        for col in spec.columns:
            new[col.name] = _COERCE[col.type](row.get(col.name))
        new["_file_id"] = int(row.get("_file_id") or 0)
        rn = row.get("_row_number")
        new["_row_number"] = int(rn) if rn is not None else index
        out.append(new)
    return out


def dedupe(entity: str, rows: list[dict]) -> list[dict]:
    """Newest version per key: highest updated_at, then _file_id, then _row_number.

    sharing_settings has no updated_at: the later delivery (_file_id, _row_number) wins.
    Rows with an empty key column are dropped (ingestion would have rejected them).
    """
    spec = ENTITIES[entity]
    best: dict[tuple, tuple[tuple, dict]] = {}
    for row in rows:
        key = tuple(row[k] for k in spec.key)
        if any(k is None for k in key):
            continue
        if spec.versioned_by:
            order = (row[spec.versioned_by] or _MIN_TS, row["_file_id"], row["_row_number"])
        else:
            order = (row["_file_id"], row["_row_number"])
        prev = best.get(key)
        if prev is None or order > prev[0]:
            best[key] = (order, row)
    return [best[k][1] for k in sorted(best, key=_sortable)]


def _sortable(key: tuple) -> tuple:
    return tuple((0, v) if v is not None else (1, 0) for v in key)


def snapshot(data: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Normalise and de-duplicate every entity of the export contract (missing ones: empty)."""
    return {name: dedupe(name, normalise_rows(name, data.get(name) or [])) for name in ENTITIES}

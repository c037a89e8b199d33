"""Read the raw tables of a built warehouse into the oracle's input format."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from orchestration.contract import ENTITIES


def load_from_duckdb(path: str | Path) -> dict[str, list[dict]]:
    """entity -> rows of `raw.<entity>` (contract columns + `_file_id`, `_row_number`).

    Opens the file read-only. A missing raw table gives an empty list.
    """
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        present = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'raw'"
            ).fetchall()
        }
        data: dict[str, list[dict]] = {}
        for name, spec in ENTITIES.items():
            if name not in present:
                data[name] = []
                continue
            cols = list(spec.column_names) + ["_file_id", "_row_number"]
            sql = f"select {', '.join(cols)} from raw.{name}"
            data[name] = [
                {c: _naive_utc(v) for c, v in zip(cols, row, strict=True)}
                for row in con.execute(sql).fetchall()
            ]
        return data
    finally:
        con.close()


def _naive_utc(value):
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value

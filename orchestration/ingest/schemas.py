"""Pandera (polars) schemas for the export contract, derived from ``orchestration.contract``.

Every delivered file is read as text (all columns ``String``), so CSV and Parquet share one
validation path. One schema per entity checks the text against the contract: each check is a
vectorised polars expression named after the reject reason code it reports (see
``docs/architecture.md``, REJECT REASON CODES), so a pandera failure case maps to a reason by
its ``check`` name alone.

The same expressions that decide whether a value *parses* also produce its typed value
(``parse``), so what validation accepts is exactly what gets loaded. Ingestion parses each
value once: it adds the typed values as companion columns (``with_typed_columns``) that the
checks use when present; on a plain text frame the checks parse by themselves.

Per column, at most one check can fail for a given value:

- empty (null or ``""``) fails only the required check (``missing_key`` for key
  columns, ``missing_value`` for other required columns) and passes every other check;
- a non-empty value that does not parse fails only its type check (``bad_timestamp``,
  ``bad_boolean``, ``wrong_type``, ``bad_enum``);
- a value that parses but is below zero fails only ``negative_quantity``/``negative_amount``;
- a non-empty id or text value longer than its column's ``max_length`` (characters) fails only
  ``too_long`` (id and text columns have no type check).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData

from orchestration.contract import ENTITIES, Column, Entity

# Timestamps: ISO 8601 with ``Z`` or a numeric offset (converted to UTC), optional fraction.
# A timestamp without any zone is read as UTC (the contract says timestamps are UTC). Parquet
# datetimes are rendered in this same ISO form by the reader before validation.
_TS_FAST = "%Y-%m-%dT%H:%M:%SZ"
_TS_ZONED = "%Y-%m-%dT%H:%M:%S%.f%#z"
_TS_NAIVE = "%Y-%m-%dT%H:%M:%S%.f"
_DATE = "%Y-%m-%d"
# money: decimal(18,2), at most two decimal places; rate: decimal(9,4), at most four.
_DECIMAL_RE = {"money": r"^-?[0-9]{1,16}(\.[0-9]{1,2})?$", "rate": r"^-?[0-9]{1,5}(\.[0-9]{1,4})?$"}
_DECIMAL_DTYPE = {"money": pl.Decimal(18, 2), "rate": pl.Decimal(9, 4)}

TYPE_REASON = {
    "timestamp": "bad_timestamp",
    "date": "bad_timestamp",
    "boolean": "bad_boolean",
    "integer": "wrong_type",
    "money": "wrong_type",
    "rate": "wrong_type",
}

# reason code -> plain-language template; {column}, {value} and {allowed} are filled in.
REASON_TEXT = {
    "missing_key": "{column} is empty (key column)",
    "missing_value": "{column} is empty (required)",
    "bad_enum": "{column} '{value}' is not one of {allowed}",
    "bad_timestamp": "{column} '{value}' is not an ISO 8601 {kind}",
    "bad_boolean": "{column} '{value}' is not true/false",
    "wrong_type": "{column} '{value}' is not {kind}",
    "negative_quantity": "{column} '{value}' is negative",
    "negative_amount": "{column} '{value}' is negative",
    # {value} is the value's length here, never the value: it may be megabytes long
    "too_long": "{column} is longer than {max_length} characters ({value})",
    # a whole row, not a column: more or fewer fields than the header (readers/validate fill it)
    "wrong_field_count": "row has {fields} fields, the header has {header_fields}",
}
_KIND = {
    "timestamp": "timestamp",
    "date": "date (YYYY-MM-DD)",
    "integer": "an integer",
    "money": "a decimal with at most 2 places",
    "rate": "a decimal with at most 4 places",
}


def is_empty(src: pl.Expr) -> pl.Expr:
    """Null (an empty CSV field) or the empty string (a quoted ``""``); never null itself.

    Blank-only values are *not* empty: they are kept as text, and fail any typed check. (Trimming
    every value would double the cost of validation for a fault no export has shown.)
    """
    return src.is_null() | (src.str.len_bytes() == 0).fill_null(True)


def _parse_timestamps(s: pl.Series) -> pl.Series:
    """ISO 8601 text → naive UTC datetimes (us); null where it does not parse.

    The common form ``YYYY-MM-DDTHH:MM:SSZ`` takes polars' fast fixed-format path; only the
    values that miss it (offsets, fractions, no zone, garbage) go through the general formats.
    Vectorised over the column: no Python per row.
    """
    out = s.str.strptime(pl.Datetime("us"), _TS_FAST, strict=False)
    miss = out.is_null() & s.is_not_null()
    if miss.any():
        idx = miss.arg_true()
        rest = s.gather(idx)
        parsed = pl.select(
            pl.coalesce(
                rest.str.to_datetime(
                    _TS_ZONED, strict=False, time_zone="UTC", time_unit="us"
                ).dt.replace_time_zone(None),
                rest.str.to_datetime(_TS_NAIVE, strict=False, time_unit="us"),
            )
        ).to_series()
        out = out.scatter(idx, parsed)
    return out


def parse(column: Column, src: pl.Expr) -> pl.Expr:
    """The typed value of ``src`` (text) for ``column``; null when empty or unparsable."""
    t = column.type
    if t in ("id", "text", "enum"):
        return pl.when(is_empty(src)).then(None).otherwise(src)
    if t == "timestamp":
        return src.map_batches(_parse_timestamps, return_dtype=pl.Datetime("us"))
    if t == "date":
        return src.str.to_date(_DATE, strict=False)
    if t == "boolean":
        return pl.when(src == "true").then(True).when(src == "false").then(False)
    if t == "integer":
        return src.str.to_integer(strict=False)
    if t in _DECIMAL_RE:
        # the pattern guards the places: a cast alone would round 12.345 to 12.35
        return pl.when(src.str.contains(_DECIMAL_RE[t])).then(
            src.cast(_DECIMAL_DTYPE[t], strict=False)
        )
    raise ValueError(f"unknown contract type {t!r}")  # pragma: no cover - types are closed


TYPED_PREFIX = "__typed__"


def typed_name(column: Column) -> str:
    """Name of the optional pre-parsed companion column of ``column`` (see ``_typed``)."""
    return TYPED_PREFIX + column.name


def _typed(column: Column, data: PolarsData) -> pl.Expr:
    """The parsed value: the frame's pre-parsed companion column if it has one, else parsed now.

    The schema validates plain text frames on its own; ingestion adds the companion columns
    (``with_typed_columns``) so each value is parsed once, for both validation and loading.
    """
    name = typed_name(column)
    if name in data.lazyframe.collect_schema().names():
        return pl.col(name)
    return parse(column, pl.col(data.key))


def _is_valid_type(column: Column, data: PolarsData) -> pl.Expr:
    src = pl.col(data.key)
    if column.enum is not None:
        return is_empty(src) | src.is_in(list(column.enum))
    if column.type in ("id", "text", "enum"):
        return pl.lit(True)
    return is_empty(src) | _typed(column, data).is_not_null()


def _is_non_negative(column: Column, data: PolarsData) -> pl.Expr:
    return (_typed(column, data) >= 0).fill_null(True)


def _is_present(column: Column, data: PolarsData) -> pl.Expr:
    return ~is_empty(pl.col(data.key))


def _is_not_too_long(column: Column, data: PolarsData) -> pl.Expr:
    limit = column.max_length

    def within(s: pl.Series) -> pl.Series:
        # a value has at least as many bytes as characters: counting characters (a scan of
        # every value) is needed only when some value has more bytes than the limit
        ok = s.str.len_bytes() <= limit
        if ok.all():  # nulls (empty values) are ignored here and pass below
            return ok.fill_null(True)
        return (s.str.len_chars() <= limit).fill_null(True)

    return pl.col(data.key).map_batches(within, return_dtype=pl.Boolean)


def reason_codes(entity: Entity, column: Column) -> list[str]:
    """The reason codes a column's checks can report, in check order."""
    codes = []
    if column.required or column.name in entity.key:
        codes.append("missing_key" if column.name in entity.key else "missing_value")
    if column.enum is not None:
        codes.append("bad_enum")
    elif column.type in TYPE_REASON:
        codes.append(TYPE_REASON[column.type])
    if column.non_negative:
        codes.append("negative_quantity" if column.type == "integer" else "negative_amount")
    if column.max_length is not None:
        codes.append("too_long")
    return codes


def reason_template(entity: Entity, column: Column, code: str) -> str:
    """Plain-language text for ``code`` on ``column`` with a ``{value}`` placeholder."""
    allowed = ", ".join(column.enum) if column.enum else ""
    return REASON_TEXT[code].format(
        column=column.name,
        value="{value}",
        allowed=allowed,
        kind=_KIND.get(column.type, ""),
        max_length=column.max_length,
    )


def _check(code: str, column: Column, fn: Callable[[Column, PolarsData], pl.Expr]) -> pa.Check:
    def check_fn(data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(fn(column, data))

    # no `error=`: pandera then reports the check by its name, i.e. the reason code
    return pa.Check(check_fn, name=code)


def _column_checks(entity: Entity, column: Column) -> list[pa.Check]:
    checks = []
    for code in reason_codes(entity, column):
        if code in ("missing_key", "missing_value"):
            checks.append(_check(code, column, _is_present))
        elif code in ("negative_quantity", "negative_amount"):
            checks.append(_check(code, column, _is_non_negative))
        elif code == "too_long":
            checks.append(_check(code, column, _is_not_too_long))
        else:
            checks.append(_check(code, column, _is_valid_type))
    return checks


@cache
def text_schema(entity_name: str) -> pa.DataFrameSchema:
    """The pandera schema of one entity's delivered text (every contract column a String).

    Extra columns are allowed (``strict=False``); a missing contract column is a whole-file
    fault, detected before validation (``orchestration.ingest.validate``).
    """
    entity = ENTITIES[entity_name]
    return pa.DataFrameSchema(
        {
            c.name: pa.Column(
                pl.String,
                checks=_column_checks(entity, c),
                nullable=True,  # emptiness is judged by the named required check
                description=c.description or None,
            )
            for c in entity.columns
        },
        name=entity.name,
        strict=False,
        ordered=False,
    )


def with_typed_columns(entity: Entity, text: pl.DataFrame) -> pl.DataFrame:
    """``text`` plus a pre-parsed companion column for every typed contract column."""
    return text.with_columns(
        parse(c, pl.col(c.name)).alias(typed_name(c))
        for c in entity.columns
        if c.type not in ("id", "text", "enum")
    )


def typed_columns(entity: Entity) -> list[pl.Expr]:
    """Expressions giving the raw table's typed columns (contract order), from a frame made by
    ``with_typed_columns`` (companion columns) or from plain text."""
    return [
        pl.col(typed_name(c)).alias(c.name)
        if c.type not in ("id", "text", "enum")
        else parse(c, pl.col(c.name)).alias(c.name)
        for c in entity.columns
    ]

"""Validate one file's text frame with its pandera schema and split it into good and rejected rows.

Validation is lazy (``lazy=True``): pandera runs every check on every row and reports all
failure cases at once. Each failure case names its column, its check (whose name is the reason
code) and its row index, so the per-row reasons are a group-by over the failure cases: no
Python loop over rows.

Every rejected row is kept, but not every hostile cell whole: a value longer than
``STORED_VALUE_MAX_CHARS`` (a 20 MB name) is stored in ``record``, and quoted in ``reasons``,
as its first ``STORED_VALUE_MAX_CHARS`` characters and the marker ``…[truncated, N chars]``.
Pandera is shown such a value already cut the same way (``_bounded``): it copies failing values
into its error messages, several times over, and the cut changes no check's verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.errors as pa_errors
import polars as pl

from orchestration.contract import ENTITIES, Entity
from orchestration.ingest.schemas import (
    REASON_TEXT,
    reason_codes,
    reason_template,
    text_schema,
    typed_columns,
    with_typed_columns,
)

ROW = "_row_number"

# The longest value kept whole in a reject, and shown whole to pandera: the contract's longest
# max_length (products.description, 1,000). A longer value fails its checks whatever follows its
# first 1,000 characters (too long for any column, in no enumeration, and typed values are parsed
# from the full text first). The raw text of a wrong_field_count row keeps as much per field.
STORED_VALUE_MAX_CHARS = max(
    c.max_length for e in ENTITIES.values() for c in e.columns if c.max_length is not None
)


class MissingColumns(Exception):
    """The file lacks contract columns: a whole-file fault."""

    def __init__(self, missing: list[str]):
        self.missing = missing
        super().__init__(", ".join(missing))


@dataclass
class Validated:
    """The outcome of validating one file."""

    good: pl.DataFrame  # contract columns, typed, plus _row_number (1-based)
    rejects: pl.DataFrame  # row_number, reason_codes, reasons, record
    extra_columns: list[str]
    rows_read: int


def _templates(entity: Entity) -> pl.DataFrame:
    """Per (column, check): the reason text before and after the value, and column position."""
    rows = []
    for pos, c in enumerate(entity.columns):
        for code in reason_codes(entity, c):
            before, _, after = reason_template(entity, c, code).partition("{value}")
            rows.append((c.name, code, pos, before, after))
    return pl.DataFrame(rows, schema=["column", "check", "pos", "before", "after"], orient="row")


def stored_value(value: pl.Expr, limit: int | pl.Expr = STORED_VALUE_MAX_CHARS) -> pl.Expr:
    """``value`` (text) as a reject stores it: whole up to ``limit`` characters, else its first
    ``limit`` characters and ``…[truncated, N chars]`` (N its full length)."""
    n = value.str.len_chars()
    marker = pl.concat_str([pl.lit("…[truncated, "), n.cast(pl.String), pl.lit(" chars]")])
    return pl.when(n > limit).then(value.str.slice(0, limit) + marker).otherwise(value)


_CUTS_SCHEMA = {"index": pl.Int64, "column": pl.String, "chars": pl.Int64}


def _bounded(text: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``text`` with every value longer than ``STORED_VALUE_MAX_CHARS`` cut as ``stored_value``
    cuts it, and the full length of each value cut (``index``, ``column``, ``chars``). Only a
    column holding a value of more bytes than that is touched: finding one is a byte count per
    value, no scan of the text."""
    widest = text.select(pl.all().str.len_bytes().max()).row(0)
    wide = [
        c for c, n in zip(text.columns, widest, strict=True) if (n or 0) > STORED_VALUE_MAX_CHARS
    ]
    if not wide:
        return text, pl.DataFrame(schema=_CUTS_SCHEMA)
    cuts = (
        text.select(pl.col(wide).str.len_chars())
        .with_row_index("index")
        .unpivot(index="index", variable_name="column", value_name="chars")
        .filter(pl.col("chars") > STORED_VALUE_MAX_CHARS)
        .select(pl.col("index").cast(pl.Int64), pl.col("column"), pl.col("chars").cast(pl.Int64))
    )
    return text.with_columns(stored_value(pl.col(c)).alias(c) for c in wide), cuts


def failure_reasons(
    entity: Entity, failure_cases: pl.DataFrame, cuts: pl.DataFrame
) -> pl.DataFrame:
    """Per failing row: ``index`` (0-based), sorted ``reason_codes`` and plain ``reasons``.

    ``failure_cases`` is pandera's ``SchemaErrors.failure_cases`` (columns ``column``,
    ``check``, ``failure_case``, ``index`` ...). One reason per failing column and row. A
    ``too_long`` reason gives the value's length, never the value: the full length from
    ``cuts`` (``_bounded``) where the value was cut before validation.
    """
    length = pl.coalesce(pl.col("chars"), pl.col("value").str.len_chars()).cast(pl.String)
    cases = (
        failure_cases.select(
            pl.col("index").cast(pl.Int64),
            pl.col("column").cast(pl.String),
            pl.col("check").cast(pl.String),
            pl.col("failure_case").cast(pl.String).alias("value"),
        )
        .join(cuts, on=["index", "column"], how="left")
        .with_columns(
            pl.when(pl.col("check") == "too_long").then(length).otherwise("value").alias("value")
        )
        .join(_templates(entity), on=["column", "check"], how="left")
    )
    unknown = cases.filter(pl.col("before").is_null() | pl.col("index").is_null())
    if unknown.height:  # not a row-level failure of one of our checks: a bug, not bad data
        raise RuntimeError(f"unmapped pandera failure cases: {unknown.head(5).to_dicts()}")
    text = pl.concat_str([pl.col("before"), pl.col("value").fill_null(""), pl.col("after")])
    return (
        cases.with_columns(text.alias("reason"))
        .unique(subset=["index", "column"], keep="first", maintain_order=True)
        .sort(["index", "pos"])
        .group_by("index", maintain_order=True)
        .agg(
            pl.col("check").unique().sort().str.join(";").alias("reason_codes"),
            pl.col("reason").str.join("; ").alias("reasons"),
        )
    )


def validate(entity_name: str, text: pl.DataFrame, ragged: pl.DataFrame | None = None) -> Validated:
    """Validate a file's text frame; raises ``MissingColumns`` if contract columns are absent.

    ``ragged`` (``readers.TextFile.ragged``) lists the rows whose field count is not the
    header's: each is rejected as ``wrong_field_count`` with its raw text as the record,
    whatever its (misaligned) values would have said.
    """
    entity = ENTITIES[entity_name]
    missing = [c for c in entity.column_names if c not in text.columns]
    if missing:
        raise MissingColumns(missing)
    extra = [c for c in text.columns if c not in entity.column_names]

    # typed values are parsed from the full text; pandera and the rejects see it cut
    prepared = with_typed_columns(entity, text.select(entity.column_names))
    bounded, cuts = _bounded(text)
    shown = prepared.with_columns(bounded.select(entity.column_names))
    try:
        text_schema(entity_name).validate(shown, lazy=True)
        bad = None
    except pa_errors.SchemaErrors as exc:
        bad = failure_reasons(entity, exc.failure_cases, cuts)
    del shown

    numbered = prepared.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    if bad is None or bad.height == 0:
        good = numbered.select(*typed_columns(entity), ROW)
        rejects = _empty_rejects()
    else:
        bad = bad.with_columns((pl.col("index") + 1).alias(ROW)).drop("index")
        good = numbered.join(bad.select(ROW), on=ROW, how="anti").select(
            *typed_columns(entity), ROW
        )
        original = bounded.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
        rejected = original.join(bad, on=ROW, how="semi", maintain_order="left")
        rejects = (
            rejected.select(
                pl.col(ROW).alias("row_number"),
                pl.struct(text.columns).struct.json_encode().alias("record"),
            )
            .join(bad, left_on="row_number", right_on=ROW, how="left")
            .select("row_number", "reason_codes", "reasons", "record")
        )
    if ragged is not None and ragged.height:
        good = good.join(ragged.select(pl.col("row_number").alias(ROW)), on=ROW, how="anti")
        rejects = pl.concat(
            [
                rejects.join(ragged.select("row_number"), on="row_number", how="anti"),
                _ragged_rejects(ragged),
            ]
        ).sort("row_number")
    return Validated(good=good, rejects=rejects, extra_columns=extra, rows_read=text.height)


def _ragged_rejects(ragged: pl.DataFrame) -> pl.DataFrame:
    """``wrong_field_count`` rejects: the reason names both counts, the record is the raw text
    (``stored_value``, allowing ``STORED_VALUE_MAX_CHARS`` per field of the header)."""
    before, rest = REASON_TEXT["wrong_field_count"].split("{fields}")
    middle, after = rest.split("{header_fields}")
    return ragged.select(
        pl.col("row_number").cast(pl.Int64),
        pl.lit("wrong_field_count").alias("reason_codes"),
        pl.concat_str(
            [
                pl.lit(before),
                pl.col("fields").cast(pl.String),
                pl.lit(middle),
                pl.col("header_fields").cast(pl.String),
                pl.lit(after),
            ]
        ).alias("reasons"),
        pl.struct(
            stored_value(pl.col("raw"), STORED_VALUE_MAX_CHARS * pl.col("header_fields")).alias(
                "_raw"
            )
        )
        .struct.json_encode()
        .alias("record"),
    )


def _empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "row_number": pl.Int64,
            "reason_codes": pl.String,
            "reasons": pl.String,
            "record": pl.String,
        }
    )

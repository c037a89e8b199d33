"""Validate one file's text frame with its pandera schema and split it into good and rejected rows.

Validation is lazy (``lazy=True``): pandera runs every check on every row and reports all
failure cases at once. Each failure case names its column, its check (whose name is the reason
code) and its row index, so the per-row reasons are a group-by over the failure cases: no
Python loop over rows.
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


def failure_reasons(entity: Entity, failure_cases: pl.DataFrame) -> pl.DataFrame:
    """Per failing row: ``index`` (0-based), sorted ``reason_codes`` and plain ``reasons``.

    ``failure_cases`` is pandera's ``SchemaErrors.failure_cases`` (columns ``column``,
    ``check``, ``failure_case``, ``index`` ...). One reason per failing column and row.
    """
    cases = failure_cases.select(
        pl.col("index").cast(pl.Int64),
        pl.col("column").cast(pl.String),
        pl.col("check").cast(pl.String),
        pl.col("failure_case").cast(pl.String).alias("value"),
    ).join(_templates(entity), on=["column", "check"], how="left")
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

    prepared = with_typed_columns(entity, text.select(entity.column_names))
    try:
        text_schema(entity_name).validate(prepared, lazy=True)
        bad = None
    except pa_errors.SchemaErrors as exc:
        bad = failure_reasons(entity, exc.failure_cases)

    numbered = prepared.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    if bad is None or bad.height == 0:
        good = numbered.select(*typed_columns(entity), ROW)
        rejects = _empty_rejects()
    else:
        bad = bad.with_columns((pl.col("index") + 1).alias(ROW)).drop("index")
        good = numbered.join(bad.select(ROW), on=ROW, how="anti").select(
            *typed_columns(entity), ROW
        )
        original = text.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
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
    """``wrong_field_count`` rejects: the reason names both counts, the record is the raw text."""
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
        pl.struct(pl.col("raw").alias("_raw")).struct.json_encode().alias("record"),
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

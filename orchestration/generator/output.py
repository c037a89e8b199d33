"""From the simulated history to delivery files: ids, versions, malformed rows, truth."""

from __future__ import annotations

import csv
import functools
import io
import json
import random
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from orchestration.contract import (
    ENTITIES,
    ENTITY_NAMES,
    EXCEPTION_KEY_COLUMNS,
)
from orchestration.generator.chains import ACCEPTED, DECLINED, HOLD, PENDING
from orchestration.generator.sim import END, History

TRANSFER_STATUS = {PENDING: "PENDING", ACCEPTED: "ACCEPTED", DECLINED: "DECLINED", HOLD: "HOLD"}
UNKNOWN_NUMBER = 90_000_000  # unknown items / events: I9000000k, E9000000k

# which id space each id column lives in
ID_KIND = {
    ("users", "user_id"): "user",
    ("distributor_links", "distributor_user_id"): "user",
    ("distributor_links", "sales_user_id"): "user",
    ("sharing_settings", "distributor_user_id"): "user",
    ("facilities", "facility_id"): "facility",
    ("products", "catalog_number"): "product",
    ("inventory_items", "item_id"): "item",
    ("inventory_items", "catalog_number"): "product",
    ("inventory_items", "initial_custodian_id"): "user",
    ("transfers", "transfer_id"): "transfer",
    ("transfers", "item_id"): "item",
    ("transfers", "from_custodian_id"): "user",
    ("transfers", "to_custodian_id"): "user",
    ("events", "event_id"): "event",
    ("events", "representative_id"): "user",
    ("events", "facility_id"): "facility",
    ("event_lines", "event_id"): "event",
    ("event_lines", "item_id"): "item",
}


def fmt_id(kind: str, code: int | None) -> str:
    """Python twin of `_id_expr`, for truth files."""
    if code is None:
        return ""
    if kind == "user":
        return "ORG" if code == 0 else f"U{code:05d}"
    if kind == "facility":
        return f"F{code + 1:04d}"
    if kind == "product":
        return f"CN-{100000 + abs(code)}"
    prefix, width = {"item": ("I", 8), "event": ("E", 8), "transfer": ("T", 9)}[kind]
    return f"{prefix}{code:0{width}d}"


def _fixed_width(prefix: str, x: pl.Expr, width: int) -> pl.Expr:
    # faster than zfill: 10**width + n, then drop the leading 1
    return pl.concat_str([pl.lit(prefix), (x + 10**width).cast(pl.Utf8).str.slice(1)])


@functools.lru_cache(maxsize=16)
def _lookup(kind: str, size: int) -> pl.Series:
    return pl.Series([fmt_id(kind, code) for code in range(size)], dtype=pl.Utf8)


def _id_expr(kind: str, col: str, df: pl.DataFrame) -> pl.Expr:
    x = pl.col(col)
    if kind in ("user", "facility"):  # small id spaces: gather from a table of the strings
        codes = df[col]
        table = _lookup(kind, int(codes.max() or 0) + 1)
        return pl.lit(table.gather(codes.fill_null(0))).alias(col)
    if kind == "product":
        return pl.lit("CN-") + (x.abs() + 100000).cast(pl.Utf8)
    prefix, width = {"item": ("I", 8), "event": ("E", 8), "transfer": ("T", 9)}[kind]
    return _fixed_width(prefix, x, width)


def _ts_expr(col: str) -> pl.Expr:
    """ISO 8601 UTC with Z; rows flagged ``_tz`` carry the same instant as +02:00."""
    x = pl.col(col) + pl.col("_tz").cast(pl.Int64) * 7200
    text = pl.from_epoch(x, time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%S")
    return text + pl.when(pl.col("_tz")).then(pl.lit("+02:00")).otherwise(pl.lit("Z"))


def _decimal_expr(col: str, scale: int) -> pl.Expr:
    x = pl.col(col)
    unit = 10**scale
    return (x // unit).cast(pl.Utf8) + pl.lit(".") + (x % unit).cast(pl.Utf8).str.zfill(scale)


def text_frame(entity: str, df: pl.DataFrame) -> pl.DataFrame:
    """Internal frame -> the CSV text of the contract columns (null stays null = empty)."""
    exprs = []
    for c in ENTITIES[entity].columns:
        kind = ID_KIND.get((entity, c.name))
        if kind:
            e = _id_expr(kind, c.name, df)
        elif c.type == "timestamp":
            e = _ts_expr(c.name)
        elif c.type == "date":
            e = pl.col(c.name).cast(pl.Date).dt.strftime("%Y-%m-%d")
        elif c.type == "boolean":
            e = pl.when(pl.col(c.name)).then(pl.lit("true")).otherwise(pl.lit("false"))
            e = pl.when(pl.col(c.name).is_null()).then(pl.lit(None, pl.Utf8)).otherwise(e)
        elif c.type == "money":
            e = _decimal_expr(c.name, 2)
        elif c.type == "rate":
            e = _decimal_expr(c.name, 4)
        elif c.type == "integer":
            e = pl.col(c.name).cast(pl.Utf8)
        else:
            e = pl.col(c.name).cast(pl.Utf8)
        exprs.append(e.alias(c.name))
    return df.select(exprs)


def typed_table(entity: str, df: pl.DataFrame, text: pl.DataFrame) -> pa.Table:
    """Typed Arrow table for Parquet: timestamps UTC, dates, booleans, int64, decimals."""
    arrays, fields = [], []
    for c in ENTITIES[entity].columns:
        if ID_KIND.get((entity, c.name)) or c.type in ("text", "enum", "id"):
            arr = text[c.name].to_arrow().cast(pa.string())
        elif c.type == "timestamp":
            arr = (
                df.select(
                    pl.from_epoch(c.name, time_unit="s")
                    .dt.cast_time_unit("us")
                    .dt.replace_time_zone("UTC")
                )
                .to_series()
                .to_arrow()
            )
        elif c.type == "date":
            arr = df[c.name].cast(pl.Date).to_arrow()
        elif c.type == "boolean":
            arr = df[c.name].to_arrow().cast(pa.bool_())
        elif c.type == "integer":
            arr = df[c.name].to_arrow().cast(pa.int64())
        elif c.type == "money":
            arr = text[c.name].to_arrow().cast(pa.string()).cast(pa.decimal128(18, 2))
        elif c.type == "rate":
            arr = text[c.name].to_arrow().cast(pa.string()).cast(pa.decimal128(9, 4))
        else:  # pragma: no cover
            raise ValueError(c.type)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        arrays.append(arr)
        fields.append(pa.field(c.name, arr.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


# ---------------------------------------------------------------------- internal frames
I64, STR, BOOL = pl.Int64, pl.Utf8, pl.Boolean


def _schema(entity: str) -> dict:
    out = {}
    for c in ENTITIES[entity].columns:
        numeric = ("timestamp", "money", "rate", "integer", "date")
        if ID_KIND.get((entity, c.name)) or c.type in numeric:
            out[c.name] = I64
        elif c.type == "boolean":
            out[c.name] = BOOL
        else:
            out[c.name] = STR
    return out


def _frame(entity: str, rows: list[dict], vt: str) -> pl.DataFrame:
    schema = _schema(entity)
    cols = {k: [r[k] for r in rows] for k in schema}
    df = pl.DataFrame(cols, schema=schema)
    return df.with_columns(
        pl.col(vt).alias("_vt"), pl.lit(False).alias("_tz"), pl.lit(False).alias("_old")
    )


class Frames:
    """Every entity's rows (final and older versions) as polars frames with final ids."""

    def __init__(self, h: History):
        self.h = h
        self.frames: dict[str, pl.DataFrame] = {}
        self._numbering()
        self._small()
        self._items()
        self._transfers()
        self._events()

    def _numbering(self) -> None:
        h = self.h
        created = h.created.copy()
        for i, c in enumerate(h.it_created):
            if c >= 0:
                created[i] = c
        self.item_created = created
        order = np.lexsort((np.arange(len(created)), created))
        self.item_num = np.empty(len(created), np.int64)
        self.item_num[order] = np.arange(1, len(created) + 1)
        ev_date = np.array([e[3] for e in h.events], np.int64)
        order = np.lexsort((np.arange(len(ev_date)), ev_date))
        self.event_num = np.empty(len(ev_date), np.int64)
        self.event_num[order] = np.arange(1, len(ev_date) + 1)

    def item(self, code: int) -> int:
        return int(self.item_num[code]) if code >= 0 else UNKNOWN_NUMBER - code

    def event(self, code: int) -> int:
        return int(self.event_num[code]) if code >= 0 else UNKNOWN_NUMBER - code

    def _small(self) -> None:
        h = self.h
        self.frames["users"] = self._with_old("users", h.users, h.user_versions, "updated_at")
        links = [r for r in h.links]
        olds = [r["old"] for r in h.links if r["old"] is not None]
        self.frames["distributor_links"] = self._with_old(
            "distributor_links", links, olds, "updated_at"
        )
        self.frames["sharing_settings"] = _frame("sharing_settings", h.sharing, "effective_at")
        self.frames["facilities"] = self._with_old(
            "facilities", h.facilities, h.facility_versions, "updated_at"
        )
        self.frames["products"] = self._with_old(
            "products", h.products, h.product_versions, "updated_at"
        )

    @staticmethod
    def _with_old(entity, rows, olds, vt) -> pl.DataFrame:
        a = _frame(entity, rows, vt)
        if not olds:
            return a
        b = _frame(entity, olds, vt).with_columns(pl.lit(True).alias("_old"))
        return pl.concat([a, b])

    def _items(self) -> None:
        h = self.h
        n = len(h.it_prod)
        prod = np.array(h.it_prod, np.int64)
        tracking_lot = np.array(
            [h.products[p]["tracking"] == "LOT" if p >= 0 else False for p in h.it_prod]
        )
        num = self.item_num
        df = pl.DataFrame(
            {
                "item_id": num,
                "catalog_number": prod,
                "_lot": tracking_lot,
                "quantity": np.array(h.it_qty, np.int64),
                "expiration_date": h.exp_days,
                "initial_custodian_id": np.array(h.it_init, np.int64),
                "created_at": self.item_created,
                "updated_at": self.item_created,
            }
        ).with_columns(
            pl.when(pl.col("_lot"))
            .then(pl.lit("L") + (pl.col("item_id") * 7 % 1000003).cast(STR).str.zfill(7))
            .alias("lot_number"),
            pl.when(~pl.col("_lot"))
            .then(pl.lit("SN") + (pl.col("item_id") * 31 % 100000007).cast(STR).str.zfill(9))
            .alias("serial_number"),
            pl.when(pl.col("expiration_date") < 0)
            .then(None)
            .otherwise(pl.col("expiration_date"))
            .alias("expiration_date"),
        )
        df = df.select(list(_schema("inventory_items"))).with_columns(
            pl.col("updated_at").alias("_vt"),
            pl.lit(False).alias("_tz"),
            pl.lit(False).alias("_old"),
        )
        self.frames["inventory_items"] = df
        assert df.height == n

    def _transfers(self) -> None:
        h, ch = self.h, self.h.chains
        codes = h.chain_item_codes[ch.item]
        qty_all = np.array(h.it_qty, np.int64)
        x = h.x_transfers
        xi = np.array([t["item"] for t in x], np.int64)
        item_num = np.concatenate(
            [self.item_num[codes], np.array([self.item(int(c)) for c in xi], np.int64)]
        )
        qty = np.concatenate([qty_all[codes], np.array([t["qty"] for t in x], np.int64)])
        status_code = {"PENDING": PENDING, "ACCEPTED": ACCEPTED, "DECLINED": DECLINED, "HOLD": HOLD}
        frm = np.concatenate([ch.from_c, np.array([t["from"] for t in x], np.int64)])
        to = np.concatenate([ch.to_c, np.array([t["to"] for t in x], np.int64)])
        status = np.concatenate(
            [ch.status, np.array([status_code[t["status"]] for t in x], np.int64)]
        )
        created = np.concatenate([ch.created_at, np.array([t["created"] for t in x], np.int64)])
        resp = np.concatenate(
            [
                ch.responded_at,
                np.array([-1 if t["responded"] is None else t["responded"] for t in x], np.int64),
            ]
        )
        upd = np.concatenate([ch.updated_at, np.array([t["updated"] for t in x], np.int64)])
        old = np.concatenate([ch.old_pending, np.zeros(len(x), bool)])
        m = len(created)
        order = np.lexsort((np.arange(m), created))
        tnum = np.empty(m, np.int64)
        tnum[order] = np.arange(1, m + 1)
        self.x_transfer_num = tnum[len(ch.created_at) :]
        names = ("PENDING", "ACCEPTED", "DECLINED", "HOLD")
        rng = self.h.rng
        tz = np.zeros(m, bool)
        tz[rng.choice(m, size=min(25, max(3, m // 5000)), replace=False)] = True
        df = pl.DataFrame(
            {
                "transfer_id": tnum,
                "item_id": item_num,
                "from_custodian_id": frm,
                "to_custodian_id": to,
                "quantity": qty,
                "status": pl.Series(status, dtype=pl.Int64).replace_strict(
                    [PENDING, ACCEPTED, DECLINED, HOLD], list(names), return_dtype=STR
                ),
                "created_at": created,
                "responded_at": resp,
                "updated_at": upd,
                "_vt": upd,
                "_tz": tz,
                "_old": np.zeros(m, bool),
            }
        ).with_columns(
            pl.when(pl.col("responded_at") < 0)
            .then(None)
            .otherwise(pl.col("responded_at"))
            .alias("responded_at")
        )
        olds = df.filter(pl.Series(old)).with_columns(
            pl.lit("PENDING").alias("status"),
            pl.lit(None, I64).alias("responded_at"),
            pl.col("created_at").alias("updated_at"),
            pl.col("created_at").alias("_vt"),
            pl.lit(True).alias("_old"),
            pl.lit(False).alias("_tz"),
        )
        self.frames["transfers"] = pl.concat([df, olds])

    def _events(self) -> None:
        h = self.h
        ev = h.events
        n = len(ev)
        rng = self.h.rng
        tz = np.zeros(n, bool)
        tz[rng.choice(n, size=min(25, max(3, n // 2000)), replace=False)] = True
        df = pl.DataFrame(
            {
                "event_id": self.event_num,
                "event_type": [e[0] for e in ev],
                "representative_id": np.array([e[1] for e in ev], np.int64),
                "facility_id": np.array([e[2] for e in ev], np.int64),
                "event_date": np.array([e[3] for e in ev], np.int64),
                "status": [e[4] for e in ev],
                "submitted_at": [e[5] for e in ev],
                "deactivate_on_submit": [bool(e[6]) for e in ev],
                "updated_at": np.array([e[7] for e in ev], np.int64),
                "_open": [e[8] for e in ev],
                "_tz": tz,
            },
            schema_overrides={"submitted_at": I64, "_open": I64},
        ).with_columns(pl.col("updated_at").alias("_vt"), pl.lit(False).alias("_old"))
        olds = df.filter(pl.col("_open").is_not_null()).with_columns(
            pl.lit("OPEN").alias("status"),
            pl.lit(None, I64).alias("submitted_at"),
            pl.col("_open").alias("updated_at"),
            pl.col("_open").alias("_vt"),
            pl.lit(True).alias("_old"),
            pl.lit(False).alias("_tz"),
        )
        self.frames["events"] = pl.concat([df, olds]).drop("_open")
        ln = h.lines
        ev_codes = np.array([x[0] for x in ln], np.int64)
        item_codes = np.array([x[2] for x in ln], np.int64)
        item_num = np.where(
            item_codes >= 0, self.item_num[np.maximum(item_codes, 0)], UNKNOWN_NUMBER - item_codes
        )
        lf = pl.DataFrame(
            {
                "event_id": np.where(
                    ev_codes >= 0,
                    self.event_num[np.maximum(ev_codes, 0)],
                    UNKNOWN_NUMBER - ev_codes,
                ),
                "line_no": np.array([x[1] for x in ln], np.int64),
                "item_id": item_num,
                "quantity": np.array([x[3] for x in ln], np.int64),
                "usage_status": [x[4] for x in ln],
                "unit_price": np.array([x[5] for x in ln], np.int64),
                "no_charge": [bool(x[6]) for x in ln],
                "billed_amount": np.array([x[7] for x in ln], np.int64),
                "updated_at": np.array([x[8] for x in ln], np.int64),
                "_open": [x[9] for x in ln],
            },
            schema_overrides={"_open": I64},
        ).with_columns(
            pl.col("updated_at").alias("_vt"),
            pl.lit(False).alias("_tz"),
            pl.lit(False).alias("_old"),
        )
        olds = lf.filter(pl.col("_open").is_not_null()).with_columns(
            pl.lit(0, I64).alias("billed_amount"),
            pl.col("_open").alias("updated_at"),
            pl.col("_open").alias("_vt"),
            pl.lit(True).alias("_old"),
        )
        self.frames["event_lines"] = pl.concat([lf, olds]).drop("_open")


# ---------------------------------------------------------------------- malformed rows
MALFORMED = (
    # entity, column, reason, bad value
    ("transfers", "status", "bad_enum", "APPROVED"),
    ("events", "event_type", "bad_enum", "SURGERY"),
    ("transfers", "created_at", "bad_timestamp", "2024-02-30T10:00:00Z"),
    ("events", "event_date", "bad_timestamp", "yesterday"),
    ("inventory_items", "expiration_date", "bad_timestamp", "2025-31-12"),
    ("transfers", "transfer_id", "missing_key", ""),
    ("event_lines", "event_id", "missing_key", ""),
    ("event_lines", "quantity", "negative_quantity", "-2"),
    ("transfers", "quantity", "negative_quantity", "-1"),
    ("event_lines", "quantity", "wrong_type", "abc"),
    ("transfers", "quantity", "wrong_type", "1.5"),
    ("event_lines", "unit_price", "wrong_type", "12.5.0"),
    ("events", "deactivate_on_submit", "bad_boolean", "yes"),
    ("products", "is_single_use", "bad_boolean", "Y"),
    ("users", "is_active", "bad_boolean", "maybe"),
    ("event_lines", "billed_amount", "negative_amount", "-5.00"),
    ("inventory_items", "initial_custodian_id", "missing_value", ""),
)

# fresh keys for malformed rows: ids no clean row uses
FRESH_KEY = {
    "transfers": lambda k: {"transfer_id": f"T8{k:08d}"},
    "events": lambda k: {"event_id": f"E8{k:07d}"},
    "event_lines": lambda k: {"event_id": f"E8{k:07d}", "line_no": "1"},
    "inventory_items": lambda k: {"item_id": f"I8{k:07d}"},
    "products": lambda k: {"catalog_number": f"CN-8{k:05d}"},
    "users": lambda k: {"user_id": f"U8{k:04d}"},
}


# ---------------------------------------------------------------------- writing
def write_all(h: History, frames: Frames, out: Path, fmt: str, n_malformed: int, seed: int) -> dict:
    R = random.Random(seed * 7919 + 17)
    files = h.scale.files
    rejects: list[tuple] = []
    rows_delivered: dict[str, int] = {}
    # plan malformed rows: entity -> file index -> list of (row dict, column, reason)
    plan: dict[str, dict[int, list]] = {}
    k = 0
    for entity, col, reason, bad in MALFORMED:
        for _ in range(n_malformed):
            k += 1
            plan.setdefault(entity, {}).setdefault(R.randrange(files), []).append(
                (k, col, reason, bad)
            )
    for entity in ENTITY_NAMES:
        df = frames.frames.pop(entity)
        n = df.height
        order = np.lexsort((np.arange(n), df["_vt"].to_numpy()))  # delivery order
        bounds = [n * i // files for i in range(files + 1)]
        # redeliveries in the last file: exact duplicates and stale older versions
        extra = []
        if ENTITIES[entity].versioned_by:
            is_old = df["_old"].to_numpy()[order]
            for pick in (order[~is_old], order[is_old]):
                if len(pick):
                    chosen = sorted(R.sample(range(len(pick)), min(3, len(pick))))
                    extra.append(df[pick[chosen]])
        rows_delivered[entity] = 0
        folder = out / entity
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(files):
            part = df[order[bounds[i] : bounds[i + 1]]]
            if i == files - 1 and extra:
                part = pl.concat([part] + extra)
            text = text_frame(entity, part)
            bad_rows = plan.get(entity, {}).get(i, [])
            rel = f"{entity}/{entity}_{i + 1:04d}.{fmt}"
            if bad_rows:
                template = text.row(0, named=True) if text.height else None
                if template is None:
                    template = text_frame(entity, df[order[:1]]).row(0, named=True)
                total = text.height + len(bad_rows)
                positions = sorted(R.sample(range(total), len(bad_rows)))
                mal = []
                for (kk, col, reason, bad), pos in zip(bad_rows, positions, strict=True):
                    row = dict(template)
                    row.update(FRESH_KEY[entity](kk))
                    row[col] = bad
                    mal.append(row)
                    rejects.append((entity, rel, pos + 1, reason, col))
                keep = np.ones(total, bool)
                keep[positions] = False
                clean_pos = np.flatnonzero(keep)
                text = (
                    pl.concat(
                        [
                            text.with_columns(pl.Series("_pos", clean_pos)),
                            pl.DataFrame(
                                mal, schema=dict.fromkeys(text.columns, pl.Utf8)
                            ).with_columns(pl.Series("_pos", positions)),
                        ]
                    )
                    .sort("_pos")
                    .drop("_pos")
                )
            rows_delivered[entity] += text.height
            path = out / rel
            if fmt == "csv":
                text.write_csv(path, null_value="", line_terminator="\n")
            elif bad_rows:  # malformed rows: every column as text
                pq.write_table(text.to_arrow(), path, compression="zstd")
            else:
                pq.write_table(typed_table(entity, part, text), path, compression="zstd")
    rejects.sort()
    return {"rows_delivered": rows_delivered, "rejects": rejects}


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def truth_rows(h: History, frames: Frames) -> list[list[str]]:
    rows = []
    for code, ev, line, item, user, related, fac, transfer in h.truth:
        if transfer is not None:
            transfer = int(frames.x_transfer_num[transfer[1]])
        rows.append(
            [
                code,
                fmt_id("event", frames.event(ev)) if ev is not None else "",
                str(line) if line is not None else "",
                fmt_id("item", frames.item(item)) if item is not None else "",
                fmt_id("user", user),
                fmt_id("user", related),
                fmt_id("facility", fac),
                fmt_id("transfer", transfer),
            ]
        )
    rows.sort()
    return rows


def write_csv(path: Path, header: list[str], rows: list) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def write_truth(out: Path, h: History, frames: Frames, written: dict, meta: dict) -> dict:
    tdir = out / "_truth"
    tdir.mkdir(parents=True, exist_ok=True)
    exc = truth_rows(h, frames)
    write_csv(
        tdir / "expected_exceptions.csv",
        list(EXCEPTION_KEY_COLUMNS),
        exc,
    )
    write_csv(
        tdir / "expected_rejects.csv",
        ["entity", "file", "row", "reason", "column"],
        written["rejects"],
    )
    by_code: dict[str, int] = {}
    for r in exc:
        by_code[r[0]] = by_code.get(r[0], 0) + 1
    fs = h.ledger.facility_stock
    units = sum(v[3] for v in fs.values())
    value = sum(v[3] * v[2] for v in fs.values())
    rejects_by_reason: dict[str, int] = {}
    for r in written["rejects"]:
        rejects_by_reason[r[3]] = rejects_by_reason.get(r[3], 0) + 1
    figures = {
        "as_of": iso(END),
        **meta,
        "facility_stock_on_hand_items": sum(1 for v in fs.values() if v[3] > 0),
        "facility_stock_units_on_hand": units,
        "facility_stock_value_on_hand": money(value),
        "sales_ledger_total": money(h.ledger.sales_cents),
        "sales_ledger_lines": h.ledger.sales_lines,
        "double_billed_amount": money(h.ledger.double_billed_cents),
        "exceptions_by_code": dict(sorted(by_code.items())),
        "exceptions_total": len(exc),
        "rejects_by_reason": dict(sorted(rejects_by_reason.items())),
        "rows_delivered": written["rows_delivered"],
    }
    (tdir / "figures.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    (tdir / "README.md").write_text(TRUTH_README, encoding="utf-8")
    return figures


TRUTH_README = """\
# Ground truth of this generated export

Written by `orchestration.generator` together with the delivery files beside this folder
(ingestion ignores folders starting with `_`). See `docs/generator.md` for how it is made.

- `expected_exceptions.csv`: every row `marts.fct_exceptions` must hold, no more, no less.
  Columns `code,event_id,line_no,item_id,user_id,related_user_id,facility_id,transfer_id`,
  filled as the EXCEPTIONS KEY CONVENTION of `docs/architecture.md` says (empty = null).
  Compare as a set of rows (sorted here by all columns).
- `expected_rejects.csv`: every malformed row ingestion must keep in `audit.rejected_rows`:
  `entity,file,row,reason,column`; `file` is relative to the export folder, `row` is the 1-based
  data row (header excluded), `reason` one reason code of `docs/architecture.md`. Each
  malformed row is an extra row with a fresh key and exactly one broken field, so rejecting it
  changes nothing else.
- `figures.json`: the generator's own bookkeeping (from its simulation, not from the files):
  - `as_of`: the end of the history; no timestamp in the export is later.
  - `facility_stock_on_hand_items`, `facility_stock_units_on_hand`,
    `facility_stock_value_on_hand`: facility stock active at `as_of` (sum of
    `quantity_on_hand` and of `unit_price x quantity_on_hand` in `fct_facility_stock`).
  - `sales_ledger_total`, `sales_ledger_lines`: sum of `fct_sales.amount` and its row count
    (submitted stocking-order lines that are not no-charge, and sale lines of submitted cases
    that are not no-charge, each `unit_price x quantity`; lines on inactive items included).
  - `double_billed_amount`: sum of `billed_amount` of the DOUBLE_BILLED lines.
  - `exceptions_by_code`, `exceptions_total`: counts of `expected_exceptions.csv`.
  - `rejects_by_reason`: counts of `expected_rejects.csv`.
  - `rows_delivered`: data rows delivered per entity, older versions, re-deliveries and
    malformed rows included.
  - `seed`, `scale`, `format`, `fault_rate`: how the export was made.
"""

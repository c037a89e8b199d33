"""Random but valid histories delivered as real export files, with faults (reliability tests).

Used by ``tests/test_reliability_*.py``; it holds no tests itself. A *history* is one small
random world (``oracle.builder.random_world``, on the cast of ``World.base``) enriched with
what the basic world lacks: every role, every transfer status, every event type and status,
accepted transfers without ``responded_at``, and *later versions* of rows (an event reopened
and closed, a link ended, a transfer accepted, a user whose role changed...), newer, equal
(the later delivery wins) or staler than the row they replace.

``Landing`` writes several histories (disjoint id prefixes) as delivery files in two phases,
each row in a random file, each file CSV or Parquet (text or typed columns), with cosmetic
variety (timestamp offsets and fractions, CRLF, a BOM, shuffled and extra columns, hostile text)
and faults: malformed rows (rejected), whole-file faults (FAILED), a file delivered twice under
two names, a changed file re-delivered under its old name, a file removed after ingestion.
``Landing.expected_rows`` then gives what the warehouse must hold: the valid rows, each with
the ``_file_id`` and ``_row_number`` ingestion gives it (the oracle's input).
"""

from __future__ import annotations

import io
import os
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
from oracle.builder import World, at, random_world

from orchestration import contract
from orchestration.contract import ENTITIES

# Text that breaks naive CSV handling or runs as a spreadsheet formula when opened.
HOSTILE_TEXT = (
    'Smith, "JJ"',
    "two\nlines",
    "cr\r\nlf",
    "=cmd|' /C calc'!A0",
    "+1+1",
    "@SUM(A1:A9)",
    "-2+3",
    "\ttabbed",
    " padded ",
    "é ü 中文 ✓",
    # as long as a name may be (facilities.name, users.full_name): it still loads
    "x" * ENTITIES["facilities"].column("name").max_length,
)
# Malformed values and the reason each must be rejected with (a subset of test_ingest.MALFORMED).
MALFORMED = {
    "users": [("role", "sales"), ("is_active", "yes"), ("updated_at", "2024-13-01T00:00:00Z")],
    "distributor_links": [("linked_at", "yesterday"), ("sales_user_id", "")],
    "sharing_settings": [("sharing_enabled", "True"), ("effective_at", "")],
    "facilities": [("contract_complete", "Y")],
    "products": [("tracking", "LOTS"), ("list_price", "$10")],
    "inventory_items": [("quantity", "-1"), ("expiration_date", "2026-02-30")],
    "transfers": [("status", "BOGUS"), ("quantity", "1.5"), ("transfer_id", "")],
    "events": [("event_date", "05/01/2025"), ("event_type", "SURGERY")],
    "event_lines": [("line_no", "-3"), ("billed_amount", "-0.01"), ("unit_price", "12.345")],
}
WHOLE_FILE_FAULTS = ("unknown_format", "missing_column", "not_utf8", "empty", "truncated")

_TYPES = list(contract.EVENT_TYPES)
_STATUSES = list(contract.EVENT_STATUSES)
_USAGE = list(contract.USAGE_STATUSES)


def budget(bounded: int, fuzz: int) -> int:
    """Examples for an expensive hypothesis test: ``fuzz`` under ``make fuzz``, else ``bounded``."""
    return fuzz if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else bounded


# --------------------------------------------------------------------------- histories


def random_history(world: World, rng: random.Random, prefix: str) -> World:
    """``oracle.builder.random_world`` plus every role, status and type, and later versions."""
    random_world(world, rng, prefix)

    def p(x: str) -> str:
        return x if x == "ORG" else f"{prefix}{x}"

    people = ["S1", "S2", "S3", "D1", "DC", "RM", "ADM", "PA", "SC", "ORG", "GHOST"]
    world.user(p("PA"), "PRIMARY_ADMIN")
    world.user(p("SC"), "SALES", custodian_only=True, rate=rng.choice(["0.0750", None, "0.1234"]))
    n_items = sum(1 for r in world.rows["inventory_items"] if r["item_id"].startswith(prefix))
    item = lambda: p(f"I{rng.randint(0, n_items)}")  # noqa: E731 - I{n_items} is unknown
    when = lambda: at(rng.randint(1, 8), rng.randint(0, 2))  # noqa: E731
    for k in range(rng.randint(0, 4)):
        t = world.transfer(
            p(f"TX{k}"),
            item(),
            p(rng.choice(people)),
            p(rng.choice(people)),
            when(),
            status=rng.choice(["PENDING", "ACCEPTED", "DECLINED", "HOLD"]),
        )
        if t["status"] == "ACCEPTED" and rng.random() < 0.4:
            t["responded_at"] = None  # moves custody at updated_at
    for k in range(rng.randint(0, 4)):
        etype = rng.choice(_TYPES)
        status = rng.choice(_STATUSES)
        date_ = when()
        submitted = None
        if status in ("CLOSED", "COMPLETED", "PAID"):
            submitted = rng.choice([date_, date_ + timedelta(hours=rng.randint(1, 30)), None])
        world.event(
            p(f"EX{k}"),
            etype=etype,
            rep=p(rng.choice(people)),
            fac=p(rng.choice(["F1", "F2", "F9"])),
            date=date_,
            status=status,
            submitted=submitted,
            direct=etype == "STOCKING_ORDER" and rng.random() < 0.3,
        )
        for no in range(1, rng.randint(1, 3) + 1):
            world.line(
                p(f"EX{k}"),
                no,
                item(),
                qty=rng.randint(1, 3),
                usage=rng.choice(_USAGE),
                price=rng.choice(["100.00", "10.00", "0.00", "499.99"]),
                no_charge=rng.random() < 0.3,
                billed=rng.choice(["auto", "auto", 0, "1.00"]),
            )
    if rng.random() < 0.3:
        world.line(p("E_NONE"), 1, item())  # a line of an unknown event
    if rng.random() < 0.3:
        world.item(p("IU"), cat=p("PX"), custodian=p("S1"), created=at(1))  # unknown product
    for d in ("D1", "DC"):
        for _ in range(rng.randint(0, 2)):
            world.sharing(p(d), rng.random() < 0.5, at(rng.randint(1, 8), rng.randint(0, 2)))
    _add_versions(world, rng, prefix)
    return world


def _shift(rng: random.Random) -> timedelta:
    """How much newer a version is: mostly newer, sometimes equal (later delivery wins) or older."""
    return timedelta(hours=rng.choice([1, 2, 5, 24, 48, 0, 0, -1]))


def _add_versions(world: World, rng: random.Random, prefix: str) -> None:
    """Re-deliver some rows of this history with changes (snapshot semantics)."""
    rows = {e: [r for r in world.rows[e] if _owner(e, r, prefix)] for e in ENTITIES}
    for _ in range(rng.randint(0, 6)):
        entity = rng.choice([e for e in ENTITIES if rows[e]])
        old = rng.choice(rows[entity])
        new = {k: v for k, v in old.items() if not k.startswith("_")}
        if entity == "users":
            new["role"] = rng.choice(["SALES", "DISTRIBUTOR", "REGIONAL_MANAGER", new["role"]])
            new["is_custodian_only"] = rng.random() < 0.2
            new["commission_rate"] = rng.choice([Decimal("0.0500"), None, new["commission_rate"]])
        elif entity == "distributor_links":
            new["unlinked_at"] = rng.choice([None, new["linked_at"] + timedelta(hours=30)])
        elif entity == "sharing_settings":
            new["sharing_enabled"] = not new["sharing_enabled"]
        elif entity == "facilities":
            new["name"] = rng.choice(HOSTILE_TEXT)
        elif entity == "products":
            new["is_single_use"] = not new["is_single_use"]
            new["list_price"] = Decimal("123.45")
        elif entity == "inventory_items":
            new["initial_custodian_id"] = f"{prefix}{rng.choice(['S1', 'S2', 'D1', 'RM'])}"
            new["quantity"] = rng.randint(1, 3)
        elif entity == "transfers":
            new["status"] = rng.choice(["PENDING", "ACCEPTED", "DECLINED", "HOLD"])
            new["responded_at"] = new["updated_at"] if new["status"] == "ACCEPTED" else None
        elif entity == "events":  # reopened, closed, cancelled, moved
            new["status"] = rng.choice(_STATUSES)
            submitted = new["status"] in ("CLOSED", "COMPLETED", "PAID")
            new["submitted_at"] = new["event_date"] if submitted else None
            new["facility_id"] = f"{prefix}{rng.choice(['F1', 'F2'])}"
        elif entity == "event_lines":
            new["usage_status"] = rng.choice(_USAGE)
            new["billed_amount"] = rng.choice([Decimal(0), new["billed_amount"]])
        if "updated_at" in new:
            new["updated_at"] = old["updated_at"] + _shift(rng)
        world.rows[entity].append(new)


def _owner(entity: str, row: dict, prefix: str) -> bool:
    key = ENTITIES[entity].key[0]
    return str(row.get(key) or "").startswith(prefix)


# --------------------------------------------------------------------------- files


def text_value(value, rng: random.Random) -> str:
    """The text a CSV export holds for a typed value, in any valid spelling."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        style = rng.randrange(5)
        if style == 0:
            return value.strftime("%Y-%m-%dT%H:%M:%SZ")
        if style == 1:
            return (value + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S") + "+02:00"
        if style == 2:
            return (value - timedelta(hours=5, minutes=30)).strftime("%Y-%m-%dT%H:%M:%S-05:30")
        if style == 3:
            return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        return value.strftime("%Y-%m-%dT%H:%M:%S")  # no zone: UTC by contract
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def csv_line(fields: list[str], quote_all: bool = False) -> str:
    """One RFC 4180 record (no line end): a field holding a comma, quote, CR or LF is quoted.

    (Python's csv writer does not quote a lone CR unless it is part of the line terminator.)
    """
    return ",".join(
        '"' + f.replace('"', '""') + '"' if quote_all or any(c in f for c in ',"\r\n') else f
        for f in fields
    )


@dataclass
class DeliveredFile:
    entity: str
    name: str  # file name inside the entity folder
    phase: int
    fmt: str  # csv, parquet_text, parquet_typed, or a whole-file fault
    rows: list[dict] = field(default_factory=list)  # data rows in file order (malformed too)
    bad: dict[int, str] = field(default_factory=dict)  # malformed rows: position -> column

    @property
    def source_file(self) -> str:
        return f"{self.entity}/{self.name}"

    @property
    def fails(self) -> bool:
        return self.fmt in WHOLE_FILE_FAULTS


class Landing:
    """Delivery files for one batch of histories, written phase by phase into ``root``."""

    def __init__(self, world: World, rng: random.Random, faults: list[str]):
        self.rng = rng
        self.files: dict[tuple[str, str, int], DeliveredFile] = {}
        self.removed: list[DeliveredFile] = []
        for entity in ENTITIES:
            for row in world.rows.get(entity, []):
                phase, slot = rng.choice([1, 2]), rng.randint(1, 3)
                self._file(entity, f"{entity}_{phase}{slot}", phase).rows.append(row)
        for f in list(self.files.values()):
            f.fmt = rng.choice(["csv", "csv", "parquet_text", "parquet_typed"])
        self.faults = faults
        for fault in faults:
            self._inject(fault, world)
        for f in self.files.values():
            f.name += ".csv" if f.fmt in ("csv", *WHOLE_FILE_FAULTS) else ".parquet"
            if f.fmt == "unknown_format":
                f.name = f.name[: -len(".csv")] + ".json"

    def _file(self, entity: str, stem: str, phase: int) -> DeliveredFile:
        key = (entity, stem, phase)
        if key not in self.files:
            self.files[key] = DeliveredFile(entity, stem, phase, "csv")
        return self.files[key]

    def _inject(self, fault: str, world: World) -> None:
        rng = self.rng
        entity = rng.choice([e for e in ENTITIES if world.rows.get(e)])
        source = rng.choice(world.rows[entity])
        # a version that would win if it were loaded: the oracle disagrees if it ever is
        loud = {k: v for k, v in source.items() if not k.startswith("_")}
        if "updated_at" in loud:
            loud["updated_at"] = datetime(2025, 3, 1)
        if fault == "malformed_row":
            target = rng.choice(
                [f for f in self.files.values() if f.entity == entity and not f.fails]
                or [self._file(entity, f"{entity}_19", 1)]
            )
            if target.fmt == "parquet_typed":
                target.fmt = "parquet_text"
            column, value = rng.choice(MALFORMED[entity])
            loud[column] = value
            pos = rng.randint(0, len(target.rows))
            target.rows.insert(pos, loud)
            target.bad = {b + (b >= pos): c for b, c in target.bad.items()} | {pos: column}
        elif fault in WHOLE_FILE_FAULTS:
            phase = rng.choice([1, 2])
            f = self._file(entity, f"{entity}_{phase}8", phase)
            f.fmt, f.rows = fault, [loud]
        elif fault == "duplicate_file":  # the same rows again under another name
            orig = rng.choice([f for f in self.files.values() if not f.fails])
            copy = self._file(orig.entity, orig.name + "x", orig.phase)
            copy.fmt, copy.rows, copy.bad = orig.fmt, list(orig.rows), dict(orig.bad)
        elif fault == "changed_file":  # phase-1 file re-delivered, changed, under its name
            olds = [f for f in self.files.values() if f.phase == 1 and not f.fails]
            olds = [f for f in olds if len(f.bad) < len(f.rows)]
            if olds:
                old = rng.choice(olds)
                good = [r for i, r in enumerate(old.rows) if i not in old.bad]
                new = self._file(old.entity, old.name, 2)
                new.fmt = old.fmt  # same name, same extension
                new.rows, new.bad = [*old.rows, _plain(good[-1])], dict(old.bad)
        elif fault == "removed_file":  # deleted from landing after it was ingested
            olds = [f for f in self.files.values() if f.phase == 1]
            if olds:
                self.removed.append(rng.choice(olds))

    # ---------------------------------------------------------------- writing

    def write(self, root: Path, phase: int) -> list[DeliveredFile]:
        """Write the files of ``phase`` (phase 2 first removes the 'removed' files)."""
        written = []
        if phase == 2:
            for f in self.removed:
                (root / f.entity / f.name).unlink(missing_ok=True)
        for f in sorted(self.files.values(), key=lambda f: (f.entity, f.name, f.phase)):
            if f.phase != phase:
                continue
            path = root / f.entity / f.name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self._bytes(f))
            written.append(f)
        return written

    def _bytes(self, f: DeliveredFile) -> bytes:
        rng = self.rng
        entity = ENTITIES[f.entity]
        columns = list(entity.column_names)
        if rng.random() < 0.3:
            rng.shuffle(columns)
        extra = rng.random() < 0.3
        cells = []
        for i, row in enumerate(f.rows):
            bad = f.bad.get(i)  # a malformed value is already text
            cell = {
                c: row[c] if c == bad else text_value(row.get(c), rng) for c in entity.column_names
            }
            if extra:
                cell["note"] = rng.choice(HOSTILE_TEXT)
            cells.append(cell)
        header = columns + (["note"] if extra else [])
        if f.fmt == "empty":
            return b""
        if f.fmt == "missing_column":
            header = [c for c in header if c != entity.key[0]]
        if f.fmt in ("parquet_text", "parquet_typed"):
            if f.fmt == "parquet_typed":
                frame = _typed_frame(f.entity, f.rows, header, rng)
            else:
                frame = pl.DataFrame(
                    {c: [cell[c] if cell[c] != "" else None for cell in cells] for c in header},
                    schema={c: pl.String for c in header},
                )
            buf = io.BytesIO()
            frame.write_parquet(buf)
            return buf.getvalue()
        newline = rng.choice(["\n", "\r\n"])
        lines = [header, *([cell.get(c, "") for c in header] for cell in cells)]
        text = "".join(csv_line(fields) + newline for fields in lines)
        if f.fmt == "truncated":
            text += "X"  # a last row cut off after one field, no final newline
        data = text.encode("utf-8")
        if f.fmt == "not_utf8":
            data = data.replace(b"\n", b"\n\xe9", 1)
        if rng.random() < 0.2:
            data = b"\xef\xbb\xbf" + data  # a UTF-8 byte order mark
        return data

    # ---------------------------------------------------------------- what must load

    def delivered(self, upto_phase: int = 2) -> list[DeliveredFile]:
        """The files delivered by the end of ``upto_phase``, in delivery order."""
        files = [f for f in self.files.values() if f.phase <= upto_phase]
        return sorted(files, key=lambda f: (f.phase, f.entity, f.name))

    def expected_rows(
        self, file_ids: dict[str, list[int]], upto_phase: int = 2
    ) -> dict[str, list[dict]]:
        """Valid delivered rows with the lineage ingestion gives them (the oracle's input).

        ``file_ids``: source_file -> the file_ids of its deliveries, in delivery order (a file
        changed under the same name has two).
        """
        out: dict[str, list[dict]] = {e: [] for e in ENTITIES}
        seen: dict[str, int] = {}
        for f in self.delivered(upto_phase):
            if f.fails:
                continue
            ids = file_ids[f.source_file]
            fid = ids[seen.get(f.source_file, 0)]
            seen[f.source_file] = seen.get(f.source_file, 0) + 1
            for i, row in enumerate(f.rows):
                if i in f.bad:
                    continue
                r = {k: v for k, v in row.items() if not k.startswith("_")}
                out[f.entity].append({**r, "_file_id": fid, "_row_number": i + 1})
        return out


def _plain(row: dict) -> dict:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def _typed_frame(entity: str, rows: list[dict], header: list[str], rng) -> pl.DataFrame:
    """A Parquet frame with real types (timestamps maybe zoned, in a non-UTC zone)."""
    spec = ENTITIES[entity]
    zone = rng.choice([None, "UTC", "Europe/Paris"])
    data = {}
    for name in header:
        if name == "note":
            data[name] = pl.Series(name, [rng.choice(HOSTILE_TEXT) for _ in rows], pl.String)
            continue
        col = spec.column(name)
        values = [r.get(name) for r in rows]
        dtype = {
            "timestamp": pl.Datetime("us"),
            "date": pl.Date,
            "boolean": pl.Boolean,
            "integer": pl.Int64,
            "money": pl.Decimal(18, 2),
            "rate": pl.Decimal(9, 4),
        }.get(col.type, pl.String)
        s = pl.Series(name, values, dtype)
        if col.type == "timestamp" and zone:
            s = s.dt.replace_time_zone("UTC").dt.convert_time_zone(zone)
        data[name] = s
    return pl.DataFrame(data)

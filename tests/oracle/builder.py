"""A tiny builder for hand-written oracle scenarios (raw rows with sensible defaults)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

from .rules import OracleResult, run

T0 = datetime(2025, 1, 1)


def at(day: int = 1, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """An instant in January 2025 (day 1 = T0)."""
    return datetime(2025, 1, day, hour, minute, second)


class World:
    """Accumulates raw rows; `base()` adds the usual cast of users, facilities and products.

    Base cast: ADM (ADMIN), OPS (OPERATIONS), RM (REGIONAL_MANAGER), D1 (full DISTRIBUTOR),
    DC (custodian-only DISTRIBUTOR), S1/S2/S3 (SALES); facilities F1, F2; products P1 (serial,
    single-use, 100.00), PR (serial, reusable, 500.00), PL (lot, single-use, 10.00).
    """

    def __init__(self) -> None:
        self.rows: dict[str, list[dict]] = defaultdict(list)
        self._file = 0

    def _add(self, entity: str, row: dict, file_id: int | None) -> dict:
        if file_id is not None:
            row["_file_id"] = file_id
        self.rows[entity].append(row)
        return row

    def base(self, prefix: str = "") -> World:
        """The standard cast (every id prefixed): admins, a regional manager, a full and a
        custodian-only distributor, three sales reps, two facilities, and a serial single-use,
        a reusable and a lot product."""

        def p(x: str) -> str:
            return f"{prefix}{x}"

        for uid, role in (
            ("ADM", "ADMIN"),
            ("OPS", "OPERATIONS"),
            ("RM", "REGIONAL_MANAGER"),
            ("D1", "DISTRIBUTOR"),
            ("S1", "SALES"),
            ("S2", "SALES"),
            ("S3", "SALES"),
        ):
            self.user(p(uid), role)
        self.user(p("DC"), "DISTRIBUTOR", custodian_only=True)
        self.facility(p("F1"))
        self.facility(p("F2"))
        self.product(p("P1"), price="100.00")
        self.product(p("PR"), single_use=False, price="500.00")
        self.product(p("PL"), tracking="LOT", price="10.00")
        return self

    def user(
        self, uid, role="SALES", custodian_only=False, rate="0.1000", updated=T0, file_id=None
    ):
        return self._add(
            "users",
            {
                "user_id": uid,
                "email": f"{uid}@x",
                "full_name": uid,
                "role": role,
                "is_custodian_only": custodian_only,
                "is_active": True,
                "commission_rate": Decimal(rate) if rate is not None else None,
                "region": "R",
                "created_at": T0,
                "updated_at": updated,
            },
            file_id,
        )

    def facility(self, fid, updated=T0, file_id=None):
        return self._add(
            "facilities",
            {
                "facility_id": fid,
                "name": fid,
                "state": "CA",
                "contract_complete": True,
                "updated_at": updated,
            },
            file_id,
        )

    def product(self, cat, tracking="SERIAL", single_use=True, price="100.00", file_id=None):
        return self._add(
            "products",
            {
                "catalog_number": cat,
                "description": cat,
                "product_line": "L",
                "tracking": tracking,
                "is_single_use": single_use,
                "list_price": Decimal(price),
                "unit_cost": None,
                "updated_at": T0,
            },
            file_id,
        )

    def item(
        self, iid, cat="P1", custodian="S1", qty=1, created=T0, exp=None, updated=None, file_id=None
    ):
        return self._add(
            "inventory_items",
            {
                "item_id": iid,
                "catalog_number": cat,
                "lot_number": None,
                "serial_number": iid,
                "quantity": qty,
                "expiration_date": exp,
                "initial_custodian_id": custodian,
                "created_at": created,
                "updated_at": updated or created,
            },
            file_id,
        )

    def transfer(
        self,
        tid,
        iid,
        frm,
        to,
        when,
        status="ACCEPTED",
        created=None,
        responded="same",
        updated=None,
        file_id=None,
    ):
        created = created or when - timedelta(hours=1)
        if responded == "same":
            responded = when if status in ("ACCEPTED", "DECLINED") else None
        return self._add(
            "transfers",
            {
                "transfer_id": tid,
                "item_id": iid,
                "from_custodian_id": frm,
                "to_custodian_id": to,
                "quantity": 1,
                "status": status,
                "created_at": created,
                "responded_at": responded,
                "updated_at": updated or when,
            },
            file_id,
        )

    def link(self, d, s, linked, unlinked=None, updated=None, file_id=None):
        return self._add(
            "distributor_links",
            {
                "distributor_user_id": d,
                "sales_user_id": s,
                "linked_at": linked,
                "unlinked_at": unlinked,
                "updated_at": updated or unlinked or linked,
            },
            file_id,
        )

    def sharing(self, d, enabled, effective, file_id=None):
        return self._add(
            "sharing_settings",
            {"distributor_user_id": d, "sharing_enabled": enabled, "effective_at": effective},
            file_id,
        )

    def event(
        self,
        eid,
        etype="CASE",
        rep="S1",
        fac="F1",
        date=None,
        status="CLOSED",
        submitted="auto",
        direct=False,
        updated=None,
        file_id=None,
    ):
        date = date or at(10)
        if submitted == "auto":
            submitted = date if status in ("CLOSED", "COMPLETED", "PAID") else None
        return self._add(
            "events",
            {
                "event_id": eid,
                "event_type": etype,
                "representative_id": rep,
                "facility_id": fac,
                "event_date": date,
                "status": status,
                "submitted_at": submitted,
                "deactivate_on_submit": direct,
                "updated_at": updated or submitted or date,
            },
            file_id,
        )

    def line(
        self,
        eid,
        no,
        iid,
        qty=1,
        usage="USED",
        price="100.00",
        no_charge=False,
        billed="auto",
        updated=T0,
        file_id=None,
    ):
        price = Decimal(price)
        if billed == "auto":
            billed = Decimal(0) if no_charge else price * qty
        return self._add(
            "event_lines",
            {
                "event_id": eid,
                "line_no": no,
                "item_id": iid,
                "quantity": qty,
                "usage_status": usage,
                "unit_price": price,
                "no_charge": no_charge,
                "billed_amount": Decimal(billed),
                "updated_at": updated,
            },
            file_id,
        )

    def run(self, as_of=None) -> OracleResult:
        return run(dict(self.rows), as_of=as_of)


# ----------------------------------------------------------------- random worlds

_PEOPLE = ["S1", "S2", "S3", "D1", "DC", "RM", "ADM", "ORG", "GHOST"]
_TYPES = [
    "CASE",
    "CASE",
    "CASE",
    "STOCKING_ORDER",
    "STOCKING_ORDER",
    "RETURN",
    "STOCK_ADJUSTMENT",
    "DAMAGE",
    "LOAN",
]


def random_world(world: World, rng: random.Random, prefix: str = "") -> World:
    """Add one small random world to ``world`` (an oracle ``World``), every id prefixed.

    The cast is ``World.base(prefix)``; GHOST is an unknown user, ORG the stock room. Worlds
    with distinct prefixes never touch, so many can share one warehouse. The oracle's own
    property tests and the dbt differential tests draw their worlds from here.
    """

    def p(x: str) -> str:
        return x if x == "ORG" else f"{prefix}{x}"

    world.base(prefix)

    def day() -> int:
        return rng.randint(1, 8)

    def hour() -> int:
        return rng.randint(0, 2)

    n_items = rng.randint(1, 6)
    for i in range(n_items):
        cat = rng.choice(["P1", "PR", "PL"])
        world.item(
            p(f"I{i}"),
            cat=p(cat),
            custodian=p(rng.choice(_PEOPLE)),
            qty=rng.randint(1, 4) if cat == "PL" else 1,
            created=at(rng.randint(1, 3)),
            exp=rng.choice([None, date(2025, 1, 5)]),
        )
    for k in range(rng.randint(0, 8)):
        world.transfer(
            p(f"T{k}"),
            p(f"I{rng.randint(0, n_items)}"),
            p(rng.choice(_PEOPLE)),
            p(rng.choice(_PEOPLE)),
            at(day(), hour()),
            status=rng.choice(["ACCEPTED", "ACCEPTED", "PENDING", "HOLD"]),
        )
    for d in ("D1", "DC", "S2"):
        for s in ("S1", "S2", "S3"):
            if rng.random() < 0.5:
                start = day()
                end = rng.choice([None, start + 2])
                world.link(p(d), p(s), at(start), unlinked=at(end) if end else None)
    if rng.random() < 0.5:
        world.sharing(p("D1"), rng.random() < 0.5, at(day()))
    for e in range(rng.randint(0, 6)):
        etype = rng.choice(_TYPES)
        world.event(
            p(f"E{e}"),
            etype=etype,
            rep=p(rng.choice(_PEOPLE)),
            fac=p(rng.choice(["F1", "F2"])),
            date=at(day(), hour()),
            status=rng.choice(["CLOSED", "PAID", "OPEN", "CANCELLED"]),
            direct=etype == "STOCKING_ORDER" and rng.random() < 0.5,
        )
        for no in range(1, rng.randint(1, 3) + 1):
            world.line(
                p(f"E{e}"),
                no,
                p(f"I{rng.randint(0, n_items - 1)}"),
                qty=rng.randint(1, 2),
                usage=rng.choice(["USED", "IMPLANTED", "UNUSED"]),
                no_charge=rng.random() < 0.5,
                billed=rng.choice(["auto", 0, "1.00"]),
            )
    return world

"""A tiny builder for hand-written oracle scenarios (raw rows with sensible defaults)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
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

    def base(self) -> World:
        for uid, role in (
            ("ADM", "ADMIN"),
            ("OPS", "OPERATIONS"),
            ("RM", "REGIONAL_MANAGER"),
            ("D1", "DISTRIBUTOR"),
            ("S1", "SALES"),
            ("S2", "SALES"),
            ("S3", "SALES"),
        ):
            self.user(uid, role)
        self.user("DC", "DISTRIBUTOR", custodian_only=True)
        self.facility("F1")
        self.facility("F2")
        self.product("P1", price="100.00")
        self.product("PR", single_use=False, price="500.00")
        self.product("PL", tracking="LOT", price="10.00")
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

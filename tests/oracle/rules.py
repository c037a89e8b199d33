"""An independent, plain-Python reading of the business rules R-1..R-19 and anomaly codes.

Written only from the business specification and `docs/architecture.md` (no dbt SQL, no
generator code), so it can cross-check both. Everything is an event-by-event simulation in
time order:

1. de-duplicate every entity by the snapshot rule (`oracle.snapshot`);
2. build one action list: item creations (at `created_at`), ACCEPTED transfers (at
   `responded_at`, else `updated_at`, else `created_at`) and the lines of submitted events (a
   CASE line at `event_date`, any other event type at `submitted_at`);
3. sort by (instant, kind, id): at one instant creations, then transfers by `transfer_id`, then
   lines by (`event_id`, `line_no`) -- so "custody at t" includes a transfer accepted at t;
4. apply each action to the item's state, classifying lines and raising anomalies on the way.

Interpretations (where the specification leaves room; the lead reconciles these with dbt and the
generator):

- I-1  User attributes (role, is_custodian_only, commission_rate) are not time-versioned: the
       newest version of a user applies at every instant. `users.is_active` does not affect
       access or custody.
- I-2  Paths are tried in the order OWN, DISTRIBUTOR_SHARE, DISTRIBUTOR_OVER_REP, ADMIN; the
       first that holds is reported. OWN is plain id equality (also for a custodian-only user).
       Sharing of a distributor at t = `sharing_enabled` of its row with the greatest
       `effective_at <= t`; none yet -> on. A link only counts when its ends have the roles the
       path needs (R-4), so an invalid-role link grants nothing.
- I-3  A transfer moves the whole item record (lot transfers' `quantity` is ignored). Every
       ACCEPTED transfer of an active item opens a new custody interval, even to the same
       custodian; two transfers at one instant leave a zero-length interval (kept: it is a
       record of custody). Intervals stay open after deactivation: an inactive item keeps its
       last custodian.
- I-4  R-18 beats R-3: an ACCEPTED transfer of an inactive (or not yet created) item moves
       nothing and is flagged INACTIVE_ITEM_USED; TRANSFER_NOT_FROM_CUSTODIAN is judged
       independently against the custodian then (None before `created_at`). PENDING, DECLINED,
       HOLD transfers are never flagged INACTIVE_ITEM_USED.
- I-5  A line on an item that is inactive (or not yet created) at its instant is still
       classified as usual (SALE, NON_SALE_FACILITY_STOCK, ...) and, if a sale, still on the
       sales ledger (the ledger records what was sold; SOLD_TWICE then catches the duplicate),
       but changes no state (no consumption, no facility stock) and is INACTIVE_ITEM_USED.
       UNUSED lines are never INACTIVE_ITEM_USED.
- I-6  "Facility stock at t" = the item became facility stock (a non-direct stocking order on an
       active item) at or before t; it stays facility stock for life (R-13), also once used up,
       so a later case line on it is NON_SALE_FACILITY_STOCK (plus INACTIVE_ITEM_USED).
       `fct_inventory_status.is_facility_stock` uses the same reading (ever facility stock).
- I-7  Stocking order on an active item: the item's remaining quantity becomes the line quantity
       (the facility-stock record is the item record). Re-sold on a later stocking order while
       active: the facility-stock record is replaced by the later sale (counters reset).
       Direct sale (R-8): remaining -= line quantity (floor 0) and the item deactivates,
       reason DIRECT_SALE, whatever the rest of a lot.
- I-8  Consumption by a consuming line of a submitted event (non stocking order) on an active
       item: RETURN and STOCK_ADJUSTMENT always remove the line quantity (R-12 "deactivate what
       they list", applied to any item); facility stock always loses the line quantity (R-11,
       even a reusable product); otherwise single-use products lose it (R-15) and reusable ones
       do not change. Remaining quantity floors at 0 and the item deactivates when it reaches 0.
       An item whose product is unknown counts as single-use.
- I-9  Deactivation reasons: CONSUMED (CASE and DAMAGE/LOAN/SAMPLE/TRIAL/OTHER), RETURNED
       (RETURN), WRITTEN_OFF (STOCK_ADJUSTMENT), DIRECT_SALE (R-8). Facility-stock counters:
       CASE and the other consuming event types -> quantity_used, RETURN -> quantity_returned,
       STOCK_ADJUSTMENT -> quantity_adjusted (an extra column);
       quantity_on_hand = sold - used - returned - adjusted (floor 0), and 0 once inactive.
       fct_facility_stock.status = ON_HAND while active, else the deactivation reason.
- I-10 A submitted non-case event without `submitted_at` takes effect at its `updated_at`.
- I-11 "Sale line" in OUTSIDE_CUSTODY / UNBILLED_SALE / BILLED_AMOUNT_MISMATCH means an R-14
       line (a consuming line of a submitted CASE on non-facility stock), no-charge included
       where the code does not exclude it: a no-charge case line billed > 0 is
       BILLED_AMOUNT_MISMATCH. Stocking-order lines are not billing-checked
       (`CHECK_STOCKING_ORDER_BILLING = False` switches it on). A missing billed_amount is 0.
- I-12 SOLD_TWICE: per single-use item, sales-ledger lines in processing order (sold_at,
       event_id, line_no); a line is flagged when the running quantity exceeds the item's
       `quantity`.
- I-13 EXPIRED_ITEM_USED: any consuming line of a submitted event (any event type, literal
       reading) whose instant's date is after `expiration_date` (the expiry day itself is fine).
- I-14 FS_RETURNED: a consuming RETURN line on active facility stock (a return that takes
       effect). MIXED_CASE: a submitted CASE with >= 1 NON_SALE_FACILITY_STOCK line and >= 1
       SALE/NO_CHARGE line.
- I-15 LINK_INVALID_ROLES: a link with a *known* end whose role is wrong (DISTRIBUTOR side not
       DISTRIBUTOR, or SALES side not SALES); unknown ends are UNKNOWN_REFERENCE only.
       LINK_OVERLAP: two non-empty links of one sales user to two *different* distributors whose
       [linked_at, unlinked_at) intersect, both with valid roles; the later by (linked_at,
       distributor_user_id) is flagged once, however many links it overlaps.
- I-16 NON_CUSTODIAL_HOLDER: each custody interval (zero-length included) held by a known user
       whose role is not SALES/DISTRIBUTOR; ORG never.
- I-17 UNKNOWN_REFERENCE is raised for rows of any status (an OPEN event, a DECLINED transfer).
       Rows naming unknown facilities/users/products are still simulated; a transfer or line
       naming an unknown item, or a line naming an unknown event, is not.
- I-18 fct_event_lines: access_path is set only for consuming lines of submitted CASEs
       (against the seller for facility stock, R-13; against the custodian otherwise);
       custodian_at_use is the custodian at the line's instant for lines of submitted events,
       None for NOT_SUBMITTED. expected_amount is 0 except for SALE lines.
- I-19 fct_facility_stock_access: known, non-admin users only (an unknown seller gets no OWN
       row); REGIONAL_MANAGER sellers keep their OWN row. Custodian-only users are left out
       whatever the path (they hold custody but never act; CUSTODIAN_ONLY_REP):
       a custodian-only seller has no OWN row, a custodian-only rep no DISTRIBUTOR_SHARE row.
       fct_event_lines keeps R-5 literal (I-2: a custodian-only representative still has OWN).
       "On hand" = active and quantity_on_hand > 0.
- I-20 Money: amount = unit_price x quantity and commission_amount = amount x commission_rate are
       exact Decimals (not rounded: compare after rounding to cents); a missing rate (or an
       unknown representative) gives commission 0.
- I-21 Custody, lines and anomalies cover all data; `as_of` only fixes the instant of the
       status snapshot (inventory status, facility stock, access, figures). Default as_of = the
       greatest timestamp in the de-duplicated contract columns.
- I-22 occurred_at: a line's instant (event_date for a CASE, submitted_at otherwise); an
       event's event_date (MIXED_CASE, CUSTODIAN_ONLY_REP); a transfer's effective instant (its
       created_at when not ACCEPTED); the interval's valid_from (NON_CUSTODIAL_HOLDER); the
       flagged link's linked_at; an item's created_at; a sharing row's effective_at.
- I-23 `deactivate_on_submit` matters only on a STOCKING_ORDER (R-8); on other event types it
       is ignored.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from orchestration.contract import (
    ADMIN_ROLES,
    CONSUMING_USAGE,
    HOLDER_ROLES,
    ORG,
    SUBMITTED_STATUSES,
)

from .snapshot import snapshot

CHECK_STOCKING_ORDER_BILLING = False

ZERO = Decimal("0")

SEVERITY = {
    "FS_WRONG_FACILITY": "high",
    "FS_INELIGIBLE_REP": "high",
    "OUTSIDE_CUSTODY": "high",
    "DOUBLE_BILLED": "high",
    "UNBILLED_SALE": "high",
    "BILLED_AMOUNT_MISMATCH": "medium",
    "SOLD_TWICE": "high",
    "MIXED_CASE": "high",
    "INACTIVE_ITEM_USED": "high",
    "FS_TRANSFERRED": "medium",
    "TRANSFER_NOT_FROM_CUSTODIAN": "medium",
    "SO_NOT_IN_CUSTODY": "medium",
    "LINK_INVALID_ROLES": "high",
    "LINK_OVERLAP": "low",
    "NON_CUSTODIAL_HOLDER": "medium",
    "CUSTODIAN_ONLY_REP": "medium",
    "EXPIRED_ITEM_USED": "medium",
    "FS_RETURNED": "info",
    "UNKNOWN_REFERENCE": "high",
}
CODES = tuple(SEVERITY)

KEY_COLUMNS = (
    "code",
    "event_id",
    "line_no",
    "item_id",
    "user_id",
    "related_user_id",
    "facility_id",
    "transfer_id",
)

# The key columns each code fills; every other key column is null. UNKNOWN_REFERENCE varies with
# the record: its allowed set is the union. The warehouse's convention is the key_columns of
# dbt_project/seeds/exception_codes.csv (never read here); tests/test_oracle.py checks they agree.
_LINE_KEYS = frozenset({"event_id", "line_no", "item_id", "user_id", "facility_id"})
_EVENT_KEYS = frozenset({"event_id", "user_id", "facility_id"})
_TRANSFER_KEYS = frozenset({"item_id", "transfer_id"})
_LINK_KEYS = frozenset({"user_id", "related_user_id"})
KEY_CONVENTION: dict[str, frozenset[str]] = {
    **dict.fromkeys(
        (
            "FS_WRONG_FACILITY",
            "FS_INELIGIBLE_REP",
            "OUTSIDE_CUSTODY",
            "DOUBLE_BILLED",
            "UNBILLED_SALE",
            "BILLED_AMOUNT_MISMATCH",
            "SOLD_TWICE",
            "EXPIRED_ITEM_USED",
            "SO_NOT_IN_CUSTODY",
            "FS_RETURNED",
        ),
        _LINE_KEYS,
    ),
    "INACTIVE_ITEM_USED": _LINE_KEYS | _TRANSFER_KEYS,
    "MIXED_CASE": _EVENT_KEYS,
    "CUSTODIAN_ONLY_REP": _EVENT_KEYS,
    "TRANSFER_NOT_FROM_CUSTODIAN": _TRANSFER_KEYS,
    "FS_TRANSFERRED": _TRANSFER_KEYS | {"facility_id"},
    "NON_CUSTODIAL_HOLDER": frozenset({"item_id", "user_id", "transfer_id"}),
    "LINK_INVALID_ROLES": _LINK_KEYS,
    "LINK_OVERLAP": _LINK_KEYS,
    "UNKNOWN_REFERENCE": frozenset(KEY_COLUMNS[1:]),
}


def key_convention_violations(rows: list[dict]) -> list[str]:
    """Describe exception rows that fill a key column their code leaves null.

    Usable on the oracle's rows and on `marts.fct_exceptions` rows alike. Also checks that a
    line-keyed row names its event, line and item, and that a transfer row of
    INACTIVE_ITEM_USED fills only item and transfer.
    """
    problems = []
    for row in rows:
        code = row.get("code")
        allowed = KEY_CONVENTION.get(code)
        if allowed is None:
            problems.append(f"unknown code {code!r}: {row}")
            continue
        filled = {c for c in KEY_COLUMNS[1:] if row.get(c) is not None}
        if not filled <= allowed:
            problems.append(f"{code} fills {sorted(filled - allowed)}: {row}")
        extra = filled - _TRANSFER_KEYS
        if code == "INACTIVE_ITEM_USED" and row.get("transfer_id") is not None and extra:
            problems.append(f"{code} (transfer) fills {sorted(extra)}: {row}")
        line_shaped = allowed == _LINE_KEYS or code == "INACTIVE_ITEM_USED"
        if line_shaped and row.get("transfer_id") is None:
            missing = [c for c in ("event_id", "line_no", "item_id") if row.get(c) is None]
            if missing:
                problems.append(f"{code} lacks {missing}: {row}")
    return problems


USAGE_CLASSES = (
    "SALE",
    "NON_SALE_FACILITY_STOCK",
    "NO_CHARGE",
    "NOT_CONSUMED",
    "NON_SALE_EVENT",
    "NOT_SUBMITTED",
)

# kinds of simulation actions, in their order at one instant
_CREATE, _TRANSFER, _LINE = 0, 1, 2


# --------------------------------------------------------------------------- state


@dataclass
class FacilityStock:
    item_id: str
    facility_id: str | None
    seller_id: str | None
    stocking_order_id: str
    line_no: int
    sold_at: datetime
    quantity_sold: int
    unit_price: Decimal | None
    quantity_used: int = 0
    quantity_returned: int = 0
    quantity_adjusted: int = 0

    def on_hand(self, active: bool) -> int:
        if not active:
            return 0
        left = self.quantity_sold - self.quantity_used - self.quantity_returned
        return max(0, left - self.quantity_adjusted)


@dataclass
class ItemState:
    item_id: str
    created: bool = False
    active: bool = False
    custodian: str | None = None
    quantity_remaining: int = 0
    deactivated_at: datetime | None = None
    deactivation_reason: str | None = None
    fs: FacilityStock | None = None

    def copy(self) -> ItemState:
        fs = None if self.fs is None else FacilityStock(**self.fs.__dict__)
        return ItemState(**{**self.__dict__, "fs": fs})


@dataclass
class OracleResult:
    as_of: datetime | None
    custody_intervals: list[dict]
    inventory_status: dict[str, dict]
    facility_stock: list[dict]
    facility_stock_access: list[dict]
    event_lines: list[dict]
    sales: list[dict]
    exceptions: list[dict]
    figures: dict[str, Any]
    _intervals_by_item: dict[str, list[dict]] = field(default_factory=dict, repr=False)

    def custodian_at(self, item_id: str, t: datetime) -> str | None:
        """Custodian of the item as of instant t (transfers accepted at t included)."""
        holder = None
        for interval in self._intervals_by_item.get(item_id, ()):
            if interval["valid_from"] <= t:
                holder = interval["custodian_id"]
            else:
                break
        return holder

    def exception_keys(self, code: str | None = None) -> list[tuple]:
        """Sorted key tuples (KEY_COLUMNS order), comparable with _truth/expected_exceptions."""
        rows = [e for e in self.exceptions if code is None or e["code"] == code]
        return sorted((tuple(e[c] for c in KEY_COLUMNS) for e in rows), key=_none_last)

    def codes(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for e in self.exceptions:
            counts[e["code"]] += 1
        return dict(counts)

    def line(self, event_id: str, line_no: int) -> dict | None:
        for row in self.event_lines:
            if row["event_id"] == event_id and row["line_no"] == line_no:
                return row
        return None


def _none_last(values: tuple) -> tuple:
    return tuple((1, "") if v is None else (0, str(v)) for v in values)


# --------------------------------------------------------------------------- engine


class _Engine:
    def __init__(self, snap: dict[str, list[dict]]):
        self.users = {r["user_id"]: r for r in snap["users"]}
        self.facilities = {r["facility_id"]: r for r in snap["facilities"]}
        self.products = {r["catalog_number"]: r for r in snap["products"]}
        self.items = {r["item_id"]: r for r in snap["inventory_items"]}
        self.transfers = snap["transfers"]
        self.events = {r["event_id"]: r for r in snap["events"]}
        self.lines = snap["event_lines"]
        self.links = snap["distributor_links"]
        self.sharing_rows = snap["sharing_settings"]

        self.links_by_pair: dict[tuple[str, str], list[dict]] = defaultdict(list)
        self.partners: dict[str, set[str]] = defaultdict(set)
        for link in self.links:
            d, s = link["distributor_user_id"], link["sales_user_id"]
            self.links_by_pair[(d, s)].append(link)
            self.partners[d].add(s)
            self.partners[s].add(d)
        sharing: dict[str, list[tuple[datetime, bool]]] = defaultdict(list)
        for row in self.sharing_rows:
            sharing[row["distributor_user_id"]].append(
                (row["effective_at"], row["sharing_enabled"])
            )
        self.sharing = {d: sorted(v, key=lambda p: p[0]) for d, v in sharing.items()}
        self.sharing_times = {d: [p[0] for p in v] for d, v in self.sharing.items()}

        self.exceptions: list[dict] = []
        self.event_lines: list[dict] = []
        self.sales: list[dict] = []
        self.intervals: dict[str, list[dict]] = defaultdict(list)
        self.state = {item_id: ItemState(item_id) for item_id in self.items}

    # ---------------------------------------------------------------- helpers

    def is_user(self, user_id: str | None) -> bool:
        return user_id is not None and user_id in self.users

    def is_custodian_id(self, cid: str | None) -> bool:
        return cid == ORG or self.is_user(cid)

    def role(self, user_id: str | None) -> str | None:
        user = self.users.get(user_id) if user_id is not None else None
        return user["role"] if user else None

    def sharing_on(self, distributor_id: str, t: datetime) -> bool:
        times = self.sharing_times.get(distributor_id)
        if not times:
            return True
        i = bisect.bisect_right(times, t)
        if i == 0:
            return True
        return bool(self.sharing[distributor_id][i - 1][1])

    def linked(self, distributor_id: str, sales_id: str, t: datetime) -> bool:
        for link in self.links_by_pair.get((distributor_id, sales_id), ()):
            if link["linked_at"] <= t and (link["unlinked_at"] is None or t < link["unlinked_at"]):
                return True
        return False

    def path(self, user_id: str | None, custodian_id: str | None, t: datetime) -> str | None:
        """R-5/R-6: the access path of user U to custody of C at t, or None."""
        if user_id is None:
            return None
        if custodian_id is not None and user_id == custodian_id:
            return "OWN"
        u = self.users.get(user_id)
        c = self.users.get(custodian_id) if custodian_id is not None else None
        if u is not None and c is not None:
            if (
                c["role"] == "DISTRIBUTOR"
                and u["role"] == "SALES"
                and self.sharing_on(custodian_id, t)
                and self.linked(custodian_id, user_id, t)
            ):
                return "DISTRIBUTOR_SHARE"
            if (
                u["role"] == "DISTRIBUTOR"
                and not u["is_custodian_only"]
                and c["role"] == "SALES"
                and self.linked(user_id, custodian_id, t)
            ):
                return "DISTRIBUTOR_OVER_REP"
        if u is not None and u["role"] in ADMIN_ROLES:
            return "ADMIN"
        return None

    def single_use(self, item: dict) -> bool:
        product = self.products.get(item["catalog_number"])
        if product is None or product["is_single_use"] is None:
            return True
        return bool(product["is_single_use"])

    def flag(self, code: str, occurred_at: datetime | None, detail: str, **keys: Any) -> None:
        row = {c: None for c in KEY_COLUMNS}
        row.update(keys)
        row["code"] = code
        row["severity"] = SEVERITY[code]
        row["occurred_at"] = occurred_at
        row["detail"] = detail
        self.exceptions.append(row)

    @staticmethod
    def submitted(event: dict) -> bool:
        return event["status"] in SUBMITTED_STATUSES

    @staticmethod
    def event_instant(event: dict) -> datetime | None:
        if event["event_type"] == "CASE":
            return event["event_date"]
        return event["submitted_at"] or event["updated_at"]

    @staticmethod
    def transfer_instant(tr: dict) -> datetime | None:
        return tr["responded_at"] or tr["updated_at"] or tr["created_at"]

    # ---------------------------------------------------------------- reference checks

    def check_references(self) -> None:
        unknown = "UNKNOWN_REFERENCE"
        for s in self.sharing_rows:
            d = s["distributor_user_id"]
            if not self.is_user(d):
                self.flag(
                    unknown, s["effective_at"], f"sharing setting names unknown user {d}", user_id=d
                )
        for link in self.links:
            d, s = link["distributor_user_id"], link["sales_user_id"]
            for who, uid in (("distributor", d), ("sales user", s)):
                if not self.is_user(uid):
                    self.flag(
                        unknown,
                        link["linked_at"],
                        f"link names unknown {who} {uid}",
                        user_id=d,
                        related_user_id=s,
                    )
        for item in self.items.values():
            iid = item["item_id"]
            if item["catalog_number"] not in self.products:
                self.flag(
                    unknown,
                    item["created_at"],
                    f"item {iid} names unknown product {item['catalog_number']}",
                    item_id=iid,
                )
            cid = item["initial_custodian_id"]
            if not self.is_custodian_id(cid):
                self.flag(
                    unknown,
                    item["created_at"],
                    f"item {iid} names unknown initial custodian {cid}",
                    item_id=iid,
                    user_id=cid,
                )
        for tr in self.transfers:
            tid, iid = tr["transfer_id"], tr["item_id"]
            at = self.transfer_instant(tr) if tr["status"] == "ACCEPTED" else tr["created_at"]
            if iid not in self.items:
                self.flag(
                    unknown,
                    at,
                    f"transfer {tid} names unknown item {iid}",
                    transfer_id=tid,
                    item_id=iid,
                )
            for end in ("from_custodian_id", "to_custodian_id"):
                cid = tr[end]
                if not self.is_custodian_id(cid):
                    self.flag(
                        unknown,
                        at,
                        f"transfer {tid} names unknown {end} {cid}",
                        transfer_id=tid,
                        item_id=iid,
                        user_id=cid,
                    )
        for ev in self.events.values():
            eid = ev["event_id"]
            if not self.is_user(ev["representative_id"]):
                self.flag(
                    unknown,
                    ev["event_date"],
                    f"event {eid} names unknown representative {ev['representative_id']}",
                    event_id=eid,
                    user_id=ev["representative_id"],
                )
            if ev["facility_id"] not in self.facilities:
                self.flag(
                    unknown,
                    ev["event_date"],
                    f"event {eid} names unknown facility {ev['facility_id']}",
                    event_id=eid,
                    facility_id=ev["facility_id"],
                )
        for line in self.lines:
            eid, no, iid = line["event_id"], line["line_no"], line["item_id"]
            ev = self.events.get(eid)
            at = self.event_instant(ev) if ev else line["updated_at"]
            if ev is None:
                self.flag(
                    unknown,
                    at,
                    f"line {eid}/{no} names unknown event {eid}",
                    event_id=eid,
                    line_no=no,
                )
            if iid not in self.items:
                self.flag(
                    unknown,
                    at,
                    f"line {eid}/{no} names unknown item {iid}",
                    event_id=eid,
                    line_no=no,
                    item_id=iid,
                )

    def check_links(self) -> None:
        valid = []
        for link in self.links:
            d, s = link["distributor_user_id"], link["sales_user_id"]
            rd, rs = self.role(d), self.role(s)
            bad = (rd is not None and rd != "DISTRIBUTOR") or (rs is not None and rs != "SALES")
            if bad:
                self.flag(
                    "LINK_INVALID_ROLES",
                    link["linked_at"],
                    f"link {d} ({rd}) -> {s} ({rs}): ends must be DISTRIBUTOR and SALES",
                    user_id=d,
                    related_user_id=s,
                )
            elif rd == "DISTRIBUTOR" and rs == "SALES":
                valid.append(link)
        by_sales: dict[str, list[dict]] = defaultdict(list)
        for link in valid:
            end = link["unlinked_at"]
            if end is None or link["linked_at"] < end:
                by_sales[link["sales_user_id"]].append(link)

        def order(link: dict) -> tuple:
            return (link["linked_at"], link["distributor_user_id"])

        for sales_id, links in by_sales.items():
            links.sort(key=order)
            for j, later in enumerate(links):
                for earlier in links[:j]:
                    if earlier["distributor_user_id"] == later["distributor_user_id"]:
                        continue
                    if _overlap(earlier, later):
                        self.flag(
                            "LINK_OVERLAP",
                            later["linked_at"],
                            f"{sales_id} linked to {earlier['distributor_user_id']} and "
                            f"{later['distributor_user_id']} at the same time",
                            user_id=sales_id,
                            related_user_id=later["distributor_user_id"],
                        )
                        break

    def check_custodian_only_reps(self) -> None:
        for ev in self.events.values():
            if ev["event_type"] != "CASE":
                continue
            rep = self.users.get(ev["representative_id"])
            if rep is not None and rep["is_custodian_only"]:
                self.flag(
                    "CUSTODIAN_ONLY_REP",
                    ev["event_date"],
                    f"custodian-only user {rep['user_id']} is the representative of case "
                    f"{ev['event_id']}",
                    event_id=ev["event_id"],
                    user_id=rep["user_id"],
                    facility_id=ev["facility_id"],
                )

    # ---------------------------------------------------------------- simulation

    def actions(self) -> list[tuple]:
        acts = []
        # rows without an instant (cannot pass ingestion) are left out of the simulation
        for item in self.items.values():
            if item["created_at"] is not None:
                acts.append((item["created_at"], _CREATE, item["item_id"], 0, item))
        for tr in self.transfers:
            t = self.transfer_instant(tr)
            if tr["status"] == "ACCEPTED" and tr["item_id"] in self.items and t is not None:
                acts.append((t, _TRANSFER, tr["transfer_id"], 0, tr))
        for line in self.lines:
            ev = self.events.get(line["event_id"])
            if ev is None or line["item_id"] not in self.items:
                continue
            t = self.event_instant(ev)
            if not self.submitted(ev) or t is None:
                self.record_line(ev, line, "NOT_SUBMITTED", None, None, ZERO)
                continue
            acts.append((t, _LINE, line["event_id"], line["line_no"], line))
        acts.sort(key=lambda a: (a[0], a[1], a[2], a[3]))
        return acts

    def open_interval(
        self, item_id: str, custodian: str | None, t: datetime, transfer_id: str | None
    ) -> None:
        ivs = self.intervals[item_id]
        if ivs:
            ivs[-1]["valid_to"] = t
        ivs.append(
            {
                "item_id": item_id,
                "custodian_id": custodian,
                "valid_from": t,
                "valid_to": None,
                "transfer_id": transfer_id,
            }
        )

    def create(self, item: dict) -> None:
        st = self.state[item["item_id"]]
        st.created = True
        st.active = True
        st.custodian = item["initial_custodian_id"]
        st.quantity_remaining = item["quantity"] or 0
        self.open_interval(item["item_id"], st.custodian, item["created_at"], None)

    def transfer(self, tr: dict, t: datetime) -> None:
        iid, tid = tr["item_id"], tr["transfer_id"]
        st = self.state[iid]
        current = st.custodian if st.created else None
        live = st.created and st.active
        if not live:
            self.flag(
                "INACTIVE_ITEM_USED",
                t,
                f"transfer {tid} of item {iid}, which is not active then",
                item_id=iid,
                transfer_id=tid,
            )
        if tr["from_custodian_id"] != current:
            self.flag(
                "TRANSFER_NOT_FROM_CUSTODIAN",
                t,
                f"transfer {tid} from {tr['from_custodian_id']} but {iid} was held by {current}",
                item_id=iid,
                transfer_id=tid,
            )
        if not live:
            return
        if st.fs is not None:
            self.flag(
                "FS_TRANSFERRED",
                t,
                f"transfer {tid} of facility stock {iid} sold to {st.fs.facility_id}",
                item_id=iid,
                facility_id=st.fs.facility_id,
                transfer_id=tid,
            )
        st.custodian = tr["to_custodian_id"]
        self.open_interval(iid, st.custodian, t, tid)

    def deactivate(self, st: ItemState, t: datetime, reason: str) -> None:
        st.active = False
        st.deactivated_at = t
        st.deactivation_reason = reason

    def consume(self, st: ItemState, qty: int, t: datetime, event_type: str) -> None:
        counter, reason = {
            "RETURN": ("quantity_returned", "RETURNED"),
            "STOCK_ADJUSTMENT": ("quantity_adjusted", "WRITTEN_OFF"),
        }.get(event_type, ("quantity_used", "CONSUMED"))
        if st.fs is not None:
            setattr(st.fs, counter, getattr(st.fs, counter) + qty)
        st.quantity_remaining = max(0, st.quantity_remaining - qty)
        if st.quantity_remaining == 0:
            self.deactivate(st, t, reason)

    def record_line(
        self,
        ev: dict,
        line: dict,
        usage_class: str,
        access_path: str | None,
        custodian: str | None,
        expected: Decimal,
    ) -> dict:
        row = {
            "event_id": line["event_id"],
            "line_no": line["line_no"],
            "event_type": ev["event_type"],
            "event_date": ev["event_date"],
            "event_status": ev["status"],
            "line_at": self.event_instant(ev),
            "facility_id": ev["facility_id"],
            "representative_id": ev["representative_id"],
            "item_id": line["item_id"],
            "quantity": line["quantity"],
            "usage_status": line["usage_status"],
            "usage_class": usage_class,
            "access_path": access_path,
            "custodian_at_use": custodian,
            "expected_amount": expected,
            "billed_amount": line["billed_amount"],
        }
        self.event_lines.append(row)
        return row

    def ledger(self, ev: dict, line: dict, item: dict, t: datetime) -> None:
        amount = (line["unit_price"] or ZERO) * (line["quantity"] or 0)
        rep = self.users.get(ev["representative_id"])
        rate = rep["commission_rate"] if rep is not None else None
        self.sales.append(
            {
                "event_id": line["event_id"],
                "line_no": line["line_no"],
                "item_id": line["item_id"],
                "event_type": ev["event_type"],
                "facility_id": ev["facility_id"],
                "representative_id": ev["representative_id"],
                "sold_at": t,
                "catalog_number": item["catalog_number"],
                "quantity": line["quantity"],
                "unit_price": line["unit_price"],
                "amount": amount,
                "commission_rate": rate,
                "commission_amount": amount * rate if rate is not None else ZERO,
            }
        )

    def line_action(self, line: dict, t: datetime) -> None:
        ev = self.events[line["event_id"]]
        item = self.items[line["item_id"]]
        st = self.state[line["item_id"]]
        etype, rep, fac = ev["event_type"], ev["representative_id"], ev["facility_id"]
        eid, no, iid = line["event_id"], line["line_no"], line["item_id"]
        qty = line["quantity"] or 0
        billed = line["billed_amount"] or ZERO
        no_charge = bool(line["no_charge"])
        custodian = st.custodian if st.created else None
        live = st.created and st.active
        keys = {"event_id": eid, "line_no": no, "item_id": iid, "user_id": rep, "facility_id": fac}

        if line["usage_status"] not in CONSUMING_USAGE:
            self.record_line(ev, line, "NOT_CONSUMED", None, custodian, ZERO)
            return

        if not live:
            self.flag(
                "INACTIVE_ITEM_USED",
                t,
                f"line {eid}/{no} uses item {iid}, which is not active then",
                **keys,
            )
        exp = item["expiration_date"]
        if exp is not None and t.date() > exp:
            self.flag(
                "EXPIRED_ITEM_USED", t, f"line {eid}/{no} uses item {iid} expired on {exp}", **keys
            )

        sale_expected = ZERO if no_charge else (line["unit_price"] or ZERO) * qty

        if etype == "STOCKING_ORDER":
            cls = "NO_CHARGE" if no_charge else "SALE"
            self.record_line(ev, line, cls, None, custodian, sale_expected)
            if custodian != rep:
                self.flag(
                    "SO_NOT_IN_CUSTODY",
                    t,
                    f"stocking order {eid} sells {iid} held by {custodian}, not {rep}",
                    **keys,
                )
            if CHECK_STOCKING_ORDER_BILLING:
                self.check_billing(line, no_charge, billed, sale_expected, t, keys)
            if not no_charge:
                self.ledger(ev, line, item, t)
            if live:
                if ev["deactivate_on_submit"]:
                    st.quantity_remaining = max(0, st.quantity_remaining - qty)
                    self.deactivate(st, t, "DIRECT_SALE")
                else:
                    st.fs = FacilityStock(iid, fac, rep, eid, no, t, qty, line["unit_price"])
                    st.quantity_remaining = qty
            return

        if etype == "CASE":
            if st.fs is not None:
                access = self.path(rep, st.fs.seller_id, t)
                self.record_line(ev, line, "NON_SALE_FACILITY_STOCK", access, custodian, ZERO)
                if fac != st.fs.facility_id:
                    self.flag(
                        "FS_WRONG_FACILITY",
                        t,
                        f"facility stock {iid} of {st.fs.facility_id} used at {fac}",
                        **keys,
                    )
                if access is None:
                    self.flag(
                        "FS_INELIGIBLE_REP",
                        t,
                        f"{rep} has no path to seller {st.fs.seller_id} of {iid}",
                        **keys,
                    )
                if billed > 0:
                    self.flag(
                        "DOUBLE_BILLED",
                        t,
                        f"facility stock {iid} already sold on {st.fs.stocking_order_id} "
                        f"billed {billed} again",
                        **keys,
                    )
                if live:
                    self.consume(st, qty, t, etype)
                return
            access = self.path(rep, custodian, t)
            cls = "NO_CHARGE" if no_charge else "SALE"
            self.record_line(ev, line, cls, access, custodian, sale_expected)
            if access is None:
                self.flag(
                    "OUTSIDE_CUSTODY",
                    t,
                    f"{rep} has no path to custodian {custodian} of {iid}",
                    **keys,
                )
            self.check_billing(line, no_charge, billed, sale_expected, t, keys)
            if not no_charge:
                self.ledger(ev, line, item, t)
            if live and self.single_use(item):
                self.consume(st, qty, t, etype)
            return

        # RETURN, STOCK_ADJUSTMENT, DAMAGE, LOAN, SAMPLE, TRIAL, OTHER
        self.record_line(ev, line, "NON_SALE_EVENT", None, custodian, ZERO)
        if etype == "RETURN" and st.fs is not None and live:
            self.flag(
                "FS_RETURNED",
                t,
                f"facility stock {iid} sold on {st.fs.stocking_order_id} returned on {eid}",
                **{**keys, "facility_id": st.fs.facility_id},
            )
        if live and (
            etype in ("RETURN", "STOCK_ADJUSTMENT") or st.fs is not None or self.single_use(item)
        ):
            self.consume(st, qty, t, etype)

    def check_billing(
        self,
        line: dict,
        no_charge: bool,
        billed: Decimal,
        expected: Decimal,
        t: datetime,
        keys: dict,
    ) -> None:
        eid, no = line["event_id"], line["line_no"]
        if not no_charge and billed == 0:
            self.flag("UNBILLED_SALE", t, f"sale line {eid}/{no} was never billed", **keys)
        if billed > 0 and billed != expected:
            self.flag(
                "BILLED_AMOUNT_MISMATCH",
                t,
                f"sale line {eid}/{no} billed {billed}, expected {expected}",
                **keys,
            )

    def check_mixed_cases(self) -> None:
        classes: dict[str, set[str]] = defaultdict(set)
        for row in self.event_lines:
            if row["event_type"] == "CASE":
                classes[row["event_id"]].add(row["usage_class"])
        for eid, seen in classes.items():
            if "NON_SALE_FACILITY_STOCK" in seen and seen & {"SALE", "NO_CHARGE"}:
                ev = self.events[eid]
                self.flag(
                    "MIXED_CASE",
                    ev["event_date"],
                    f"case {eid} uses facility stock and consigned inventory",
                    event_id=eid,
                    user_id=ev["representative_id"],
                    facility_id=ev["facility_id"],
                )

    def check_sold_twice(self) -> None:
        by_item: dict[str, list[dict]] = defaultdict(list)
        for sale in self.sales:
            by_item[sale["item_id"]].append(sale)
        for iid, sales in by_item.items():
            item = self.items[iid]
            if not self.single_use(item):
                continue
            sales.sort(key=lambda s: (s["sold_at"], s["event_id"], s["line_no"]))
            running = 0
            for s in sales:
                running += s["quantity"] or 0
                if running > (item["quantity"] or 0):
                    self.flag(
                        "SOLD_TWICE",
                        s["sold_at"],
                        f"single-use {iid} (quantity {item['quantity']}) sold again on "
                        f"{s['event_id']}/{s['line_no']}",
                        event_id=s["event_id"],
                        line_no=s["line_no"],
                        item_id=iid,
                        user_id=s["representative_id"],
                        facility_id=s["facility_id"],
                    )

    def check_holders(self) -> None:
        for iid, ivs in self.intervals.items():
            for iv in ivs:
                holder = iv["custodian_id"]
                role = self.role(holder)
                if role is not None and role not in HOLDER_ROLES:
                    self.flag(
                        "NON_CUSTODIAL_HOLDER",
                        iv["valid_from"],
                        f"{iid} held by {holder} ({role}), a role that cannot hold inventory",
                        item_id=iid,
                        user_id=holder,
                        transfer_id=iv["transfer_id"],
                    )

    # ---------------------------------------------------------------- snapshot outputs

    def status_rows(self, states: dict[str, ItemState]) -> dict[str, dict]:
        out = {}
        for iid, st in states.items():
            out[iid] = {
                "item_id": iid,
                "catalog_number": self.items[iid]["catalog_number"],
                "custodian_id": st.custodian if st.created else None,
                "is_active": st.created and st.active,
                "is_facility_stock": st.fs is not None,
                "facility_id": st.fs.facility_id if st.fs else None,
                "seller_id": st.fs.seller_id if st.fs else None,
                "quantity_remaining": st.quantity_remaining if st.created else 0,
                "deactivated_at": st.deactivated_at,
                "deactivation_reason": st.deactivation_reason,
            }
        return out

    def facility_stock_rows(self, states: dict[str, ItemState]) -> list[dict]:
        rows = []
        for iid in sorted(states):
            st = states[iid]
            fs = st.fs
            if fs is None:
                continue
            on_hand = fs.on_hand(st.active)
            price = fs.unit_price or ZERO
            rows.append(
                {
                    "item_id": iid,
                    "catalog_number": self.items[iid]["catalog_number"],
                    "facility_id": fs.facility_id,
                    "seller_id": fs.seller_id,
                    "stocking_order_id": fs.stocking_order_id,
                    "stocking_order_line_no": fs.line_no,
                    "sold_at": fs.sold_at,
                    "quantity_sold": fs.quantity_sold,
                    "quantity_used": fs.quantity_used,
                    "quantity_returned": fs.quantity_returned,
                    "quantity_adjusted": fs.quantity_adjusted,
                    "quantity_on_hand": on_hand,
                    "unit_price": fs.unit_price,
                    "value_on_hand": price * on_hand,
                    "status": "ON_HAND" if st.active else st.deactivation_reason,
                }
            )
        return rows

    def access_rows(self, fs_rows: list[dict], as_of: datetime) -> list[dict]:
        rows = []
        for fs in fs_rows:
            if fs["status"] != "ON_HAND" or fs["quantity_on_hand"] <= 0:
                continue
            seller = fs["seller_id"]
            candidates = {seller} | self.partners.get(seller, set())
            for uid in sorted(c for c in candidates if c is not None):
                user = self.users.get(uid)
                # I-19: admins reach everything; custodian-only accounts never act
                if user is None or user["role"] in ADMIN_ROLES or user["is_custodian_only"]:
                    continue
                p = self.path(uid, seller, as_of)
                if p in ("OWN", "DISTRIBUTOR_SHARE", "DISTRIBUTOR_OVER_REP"):
                    rows.append(
                        {
                            "item_id": fs["item_id"],
                            "facility_id": fs["facility_id"],
                            "user_id": uid,
                            "access_path": p,
                        }
                    )
        return rows

    # ---------------------------------------------------------------- run

    def run(self, as_of: datetime | None) -> OracleResult:
        self.check_references()
        self.check_links()
        self.check_custodian_only_reps()
        states_at_as_of = None
        for t, kind, _k1, _k2, rec in self.actions():
            if as_of is not None and states_at_as_of is None and t > as_of:
                states_at_as_of = {k: v.copy() for k, v in self.state.items()}
            if kind == _CREATE:
                self.create(rec)
            elif kind == _TRANSFER:
                self.transfer(rec, t)
            else:
                self.line_action(rec, t)
        if states_at_as_of is None:
            states_at_as_of = self.state
        self.check_mixed_cases()
        self.check_sold_twice()
        self.check_holders()

        status = self.status_rows(states_at_as_of)
        fs_rows = self.facility_stock_rows(states_at_as_of)
        access = self.access_rows(fs_rows, as_of) if as_of is not None else []
        self.event_lines.sort(key=lambda r: (r["event_id"], r["line_no"]))
        self.sales.sort(key=lambda r: (r["event_id"], r["line_no"]))
        intervals = [iv for iid in sorted(self.intervals) for iv in self.intervals[iid]]
        double_billed = sum(
            (
                r["billed_amount"] or ZERO
                for r in self.event_lines
                if r["usage_class"] == "NON_SALE_FACILITY_STOCK" and (r["billed_amount"] or 0) > 0
            ),
            ZERO,
        )
        figures = {
            "facility_stock_units_on_hand": sum(r["quantity_on_hand"] for r in fs_rows),
            "facility_stock_value_on_hand": sum((r["value_on_hand"] for r in fs_rows), ZERO),
            "sales_ledger_total": sum((s["amount"] for s in self.sales), ZERO),
            "commission_total": sum((s["commission_amount"] for s in self.sales), ZERO),
            "double_billed_amount": double_billed,
            "active_items": sum(1 for r in status.values() if r["is_active"]),
        }
        self.exceptions.sort(key=lambda e: _none_last(tuple(e[c] for c in KEY_COLUMNS)))
        return OracleResult(
            as_of=as_of,
            custody_intervals=intervals,
            inventory_status=status,
            facility_stock=fs_rows,
            facility_stock_access=access,
            event_lines=self.event_lines,
            sales=self.sales,
            exceptions=self.exceptions,
            figures=figures,
            _intervals_by_item=dict(self.intervals),
        )


def _overlap(a: dict, b: dict) -> bool:
    a_end, b_end = a["unlinked_at"], b["unlinked_at"]
    return (b_end is None or a["linked_at"] < b_end) and (a_end is None or b["linked_at"] < a_end)


def max_timestamp(snap: dict[str, list[dict]]) -> datetime | None:
    """The greatest timestamp in the contract columns of the de-duplicated data."""
    best = None
    for rows in snap.values():
        for row in rows:
            for key, value in row.items():
                if key.startswith("_"):
                    continue
                if isinstance(value, datetime) and (best is None or value > best):
                    best = value
    return best


def run(data: dict[str, list[dict]], as_of: datetime | date | str | None = None) -> OracleResult:
    """Apply R-1..R-19 to raw rows (entity -> rows) and return every oracle output."""
    from .snapshot import to_ts

    snap = snapshot(data)
    when = to_ts(as_of) if as_of is not None else max_timestamp(snap)
    return _Engine(snap).run(when)


def paths_at(
    data: dict[str, list[dict]], holder_id: str, t: datetime | date | str
) -> dict[str, str]:
    """R-5/R-6 at instant t: every known user with a path to the custody of holder_id, and
    the path (ADMIN left out: admins reach everything). For point-in-time checks."""
    from .snapshot import to_ts

    engine = _Engine(snapshot(data))
    when = to_ts(t)
    out = {}
    for user_id in engine.users:
        p = engine.path(user_id, holder_id, when)
        if p is not None and p != "ADMIN":
            out[user_id] = p
    return out

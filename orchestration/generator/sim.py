"""The clean simulated history: organization, catalog, items, events and lines.

Events are generated first (plain Python, one loop per kind) and every item an event needs is
created *for* it: its final custodian and the instant by which it must be there are fixed by the
event, and `chains.build_chains` then draws the item's whole custody chain backwards, as arrays.
Every access path is checked against the simulated links and sharing settings at the instant
of use, so the clean history triggers no anomaly at all (except FS_RETURNED, which every
return of facility stock raises by definition; those rows are listed in the truth).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from orchestration.contract import ADMIN_ROLES
from orchestration.generator.chains import DAY, HOUR, build_chains
from orchestration.generator.scales import Scale

START = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp())
END = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())  # the as-of instant: nothing is later
INF = 1 << 62

HOSPITALS = ("General", "Memorial", "Surgery Center", "University")
REGIONS = ("NORTHEAST", "SOUTHEAST", "MIDWEST", "SOUTHWEST", "WEST")
STATES = ("NY", "MA", "PA", "FL", "GA", "NC", "IL", "OH", "MI", "TX", "AZ", "CA", "WA", "CO")
LINES = ("SPINE", "TRAUMA", "JOINTS", "BIOLOGICS", "INSTRUMENTS")
FIRST = ("Ana", "Ben", "Chloe", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivan", "Jo", "Kai", "Lea")
LAST = ("Ortiz", "Nguyen", "Smith", "Kowal", "Brown", "Patel", "Moreau", "Rossi", "Kim", "Berg")

# negative codes name records that do not exist (UNKNOWN_REFERENCE); see ids.py
SUBMITTED = ("CLOSED", "COMPLETED", "PAID")


@dataclass
class Ledger:
    """The generator's own bookkeeping of what the warehouse must show."""

    sales_cents: int = 0
    sales_lines: int = 0
    double_billed_cents: int = 0
    # item -> [facility, seller, unit_price_cents, quantity_on_hand]
    facility_stock: dict[int, list[int]] = field(default_factory=dict)

    def sale(self, price: int, qty: int) -> None:
        self.sales_cents += price * qty
        self.sales_lines += 1


class History:
    """All rows of the simulated export, as internal codes (ids are formatted on writing)."""

    def __init__(self, seed: int, scale: Scale):
        self.scale = scale
        self.R = random.Random(seed)
        self.rng = np.random.default_rng(seed)
        self.ledger = Ledger()
        self.truth: list[tuple] = []  # (code, event, line, item, user, related, facility, transfer)
        # users: code 0 is ORG
        self.users: list[dict] = []
        self.user_versions: list[dict] = []
        self.role: list[str] = ["ORG"]
        self.co: list[bool] = [False]
        self.links: list[dict] = []  # final versions; an 'old' key holds the older version
        self.links_of: dict[int, list[tuple[int, int, int]]] = {}  # sales -> (from, to, dist)
        self.core: dict[int, list[int]] = {}  # distributor -> permanently linked reps
        self.sharing: list[dict] = []
        self.share_rows: dict[int, list[tuple[int, bool]]] = {}
        self.facilities: list[dict] = []
        self.facility_versions: list[dict] = []
        self.products: list[dict] = []
        self.product_versions: list[dict] = []
        # items (code = index)
        self.it_prod: list[int] = []
        self.it_qty: list[int] = []
        self.it_last_use: list[int] = []
        self.it_created: list[int] = []  # -1: drawn by the chain builder
        self.it_init: list[int] = []
        self.it_exp: list[int | None] = []  # days since epoch; -2: drawn later
        self.auto: list[tuple[int, int, int]] = []  # (item, final custodian, t_end)
        # explicit transfers (faults): dicts with codes
        self.x_transfers: list[dict] = []
        # events and lines
        self.events: list[list] = []
        self.lines: list[list] = []
        self.n_lines_of: list[int] = []

    # ------------------------------------------------------------------ helpers
    def uniform_t(self, lo: int, hi: int) -> int:
        return lo + int(self.R.random() * (hi - lo))

    def add_user(self, role, co=False, active=True, created=None) -> int:
        code = len(self.role)
        self.role.append(role)
        self.co.append(co)
        R = self.R
        created = created if created is not None else START - self.uniform_t(30 * DAY, 900 * DAY)
        rate = None
        if role in ("SALES", "DISTRIBUTOR") and not co:
            rate = R.choice((300, 500, 750, 1000, 1250))  # 1e-4 units: 0.0300 .. 0.1250
        first, last = R.choice(FIRST), R.choice(LAST)
        name = f"{last} Logistics" if co and role == "DISTRIBUTOR" else f"{first} {last}"
        if role == "DISTRIBUTOR" and not co:
            name = f"{last} Medical Partners"
        row = {
            "user_id": code,
            "email": None if co else f"{first.lower()}.{last.lower()}.{code}@example.com",
            "full_name": name,
            "role": role,
            "is_custodian_only": co,
            "is_active": active,
            "commission_rate": rate,
            "region": R.choice(REGIONS),
            "created_at": created,
            "updated_at": created,
        }
        if rate is not None and R.random() < 0.2:  # a later version: new commission rate
            self.user_versions.append(dict(row))
            row["commission_rate"] = rate + 100
            row["updated_at"] = self.uniform_t(START, END - DAY)
        self.users.append(row)
        return code

    def add_link(self, dist, sales, linked, unlinked=None, check=True) -> None:
        row = {
            "distributor_user_id": dist,
            "sales_user_id": sales,
            "linked_at": linked,
            "unlinked_at": unlinked,
            "updated_at": unlinked if unlinked is not None else linked,
            "old": None,
        }
        if unlinked is not None and linked >= START - 60 * DAY:
            row["old"] = {**row, "unlinked_at": None, "updated_at": linked, "old": None}
        self.links.append(row)
        if check:
            self.links_of.setdefault(sales, []).append(
                (linked, INF if unlinked is None else unlinked, dist)
            )

    def add_sharing(self, dist, enabled, effective) -> None:
        self.sharing.append(
            {"distributor_user_id": dist, "sharing_enabled": enabled, "effective_at": effective}
        )
        rows = self.share_rows.setdefault(dist, [])
        rows.append((effective, enabled))
        rows.sort()

    def dist_at(self, sales: int, t: int) -> int:
        for a, u, d in self.links_of.get(sales, ()):
            if a <= t < u:
                return d
        return 0

    def sharing_on(self, dist: int, t: int) -> bool:
        on = True
        for eff, enabled in self.share_rows.get(dist, ()):
            if eff <= t:
                on = enabled
        return on

    def new_item(self, prod, qty, final, t_end) -> int:
        """A clean item whose chain (drawn later) brings it to ``final`` before ``t_end``."""
        code = len(self.it_prod)
        self.it_prod.append(prod)
        self.it_qty.append(qty)
        self.it_last_use.append(0)
        self.it_created.append(-1)
        self.it_init.append(0)
        self.it_exp.append(-2)
        self.auto.append((code, final, t_end))
        return code

    def explicit_item(self, prod, qty, init, created, exp_days) -> int:
        code = len(self.it_prod)
        self.it_prod.append(prod)
        self.it_qty.append(qty)
        self.it_last_use.append(0)
        self.it_created.append(created)
        self.it_init.append(init)
        self.it_exp.append(exp_days)
        return code

    def transfer(self, item, frm, to, qty, status, created, responded, updated) -> int:
        self.x_transfers.append(
            {
                "item": item,
                "from": frm,
                "to": to,
                "qty": qty,
                "status": status,
                "created": created,
                "responded": responded,
                "updated": updated,
            }
        )
        return len(self.x_transfers) - 1

    def event(self, etype, rep, fac, date, status, sub=None, dos=False, open_t=None, upd=None):
        code = len(self.events)
        if upd is None:
            upd = sub if sub is not None else (open_t if open_t is not None else date)
        self.events.append([etype, rep, fac, date, status, sub, dos, upd, open_t])
        self.n_lines_of.append(0)
        return code

    def line(self, ev, item, qty, usage, price, no_charge, billed, when=None) -> int:
        """Append a line; ``when`` is the line's instant (for expiry bookkeeping)."""
        self.n_lines_of[ev] += 1
        no = self.n_lines_of[ev]
        e = self.events[ev]
        self.lines.append([ev, no, item, qty, usage, price, no_charge, billed, e[7], e[8]])
        if when is not None and 0 <= item < len(self.it_last_use):
            self.it_last_use[item] = max(self.it_last_use[item], when)
        return no

    def orphan_line(self, ev: int, item: int, upd: int) -> None:
        """A line of an event that does not exist (``ev`` < 0)."""
        self.lines.append([ev, 1, item, 1, "UNUSED", 10_000, False, 0, upd, None])

    def submitted_status(self) -> str:
        r = self.R.random()
        return "CLOSED" if r < 0.5 else "COMPLETED" if r < 0.8 else "PAID"

    def submitted_times(self, date: int, paid_lag: bool = True) -> tuple[str, int, int]:
        status = self.submitted_status()
        sub = min(date + self.uniform_t(HOUR, 3 * DAY), END - 2 * HOUR)
        upd = sub
        if status == "PAID" and paid_lag:
            upd = min(sub + self.uniform_t(HOUR, 10 * DAY), END - HOUR)
        return status, sub, upd

    def open_version(self, date: int) -> int | None:
        if self.R.random() < 0.35:
            return max(date - self.uniform_t(HOUR, 6 * DAY), START)
        return None

    def price(self, prod: int) -> int:
        lp = self.products[prod]["list_price"]
        return int(round(lp * self.R.uniform(0.8, 1.0)))

    # ------------------------------------------------------------------ the organization
    def build_world(self) -> None:
        s, R = self.scale, self.R
        self.add_user("PRIMARY_ADMIN")
        self.admins = [self.add_user("ADMIN") for _ in range(s.admins)]
        self.ops = [self.add_user("OPERATIONS") for _ in range(s.operations)]
        self.rms = [self.add_user("REGIONAL_MANAGER") for _ in range(s.regional_managers)]
        self.users[-1]["is_active"] = False  # a regional manager who left
        self.full_d = [self.add_user("DISTRIBUTOR") for _ in range(s.full_distributors)]
        self.co_d = [
            self.add_user("DISTRIBUTOR", co=True) for _ in range(s.custodian_only_distributors)
        ]
        self.sales = [self.add_user("SALES") for _ in range(s.sales)]
        self.co_sales = [self.add_user("SALES", co=True) for _ in range(s.custodian_only_sales)]
        dists = self.full_d + self.co_d
        # rep groups: core of a distributor (permanent link), churn (links made, ended, made
        # again), independent (never linked)
        reps = list(self.sales)
        R.shuffle(reps)
        n_core = int(len(reps) * 0.62)
        n_churn = int(len(reps) * 0.15)
        core, churn = reps[:n_core], reps[n_core : n_core + n_churn]
        self.independent = sorted(reps[n_core + n_churn :])
        for i, rep in enumerate(core):
            d = dists[i] if i < len(dists) else R.choice(dists)
            self.core.setdefault(d, []).append(rep)
            self.add_link(d, rep, START - self.uniform_t(10 * DAY, 700 * DAY))
        for d in self.core:
            self.core[d].sort()
        self.churn = sorted(churn)
        for rep in self.churn:
            da, db = R.sample(dists, 2)
            a1 = START - self.uniform_t(10 * DAY, 300 * DAY)
            u1 = self.uniform_t(START + 60 * DAY, START + 400 * DAY)
            a2 = u1 + self.uniform_t(5 * DAY, 60 * DAY)
            u2 = a2 + self.uniform_t(60 * DAY, 300 * DAY)
            a3 = u2 + self.uniform_t(5 * DAY, 60 * DAY)
            self.add_link(da, rep, a1, u1)
            self.add_link(db, rep, a2, u2)
            self.add_link(da, rep, a3)
        # sharing: some distributors switch it off for a while (one stays off at the end)
        for d in dists:
            r = R.random()
            if r < 0.2:
                self.add_sharing(d, True, START - 30 * DAY)
            elif r < 0.55:
                off = self.uniform_t(START + 60 * DAY, END - 150 * DAY)
                self.add_sharing(d, False, off)
                self.add_sharing(d, True, off + self.uniform_t(15 * DAY, 100 * DAY))
        self.add_sharing(self.full_d[-1], False, END - 45 * DAY)
        # facilities and catalog
        for f in range(s.facilities):
            row = {
                "facility_id": f,
                "name": f"{R.choice(LAST)} {R.choice(HOSPITALS)} Hospital",
                "state": R.choice(STATES),
                "contract_complete": True,
                "updated_at": START - self.uniform_t(DAY, 400 * DAY),
            }
            if R.random() < 0.25:  # contract completed during the history: two versions
                self.facility_versions.append({**row, "contract_complete": False})
                row = {**row, "updated_at": self.uniform_t(START, END - DAY)}
            self.facilities.append(row)
        kind_name = {True: "implant", False: "instrument"}
        for p in range(s.products):
            kind = R.random()
            tracking = "LOT" if kind < 0.35 else "SERIAL"
            single = not (tracking == "SERIAL" and kind > 0.8)
            lp = (
                R.choice((120, 250, 480, 900, 1500, 2800, 4500, 7900)) * 100
                + R.randrange(0, 100) * 5
            )
            if tracking == "LOT":
                lp //= 10
            line = R.choice(LINES)
            row = {
                "catalog_number": p,
                "description": f"{line.title()} {kind_name[single]} {p}",
                "product_line": line,
                "tracking": tracking,
                "is_single_use": single,
                "list_price": lp,
                "unit_cost": lp * 4 // 10,
                "updated_at": START - self.uniform_t(DAY, 600 * DAY),
            }
            if R.random() < 0.1:  # a price update during the history
                self.product_versions.append(dict(row))
                row = {
                    **row,
                    "list_price": lp + lp // 20,
                    "updated_at": self.uniform_t(START, END - DAY),
                }
            self.products.append(row)
        self.p_serial = [
            p["catalog_number"]
            for p in self.products
            if p["tracking"] == "SERIAL" and p["is_single_use"]
        ]
        self.p_lot = [p["catalog_number"] for p in self.products if p["tracking"] == "LOT"]
        self.p_reusable = [p["catalog_number"] for p in self.products if not p["is_single_use"]]
        self.holders = self.sales + self.co_sales + self.full_d + self.co_d
        self.actors = self.sales + self.full_d  # may be representatives of cases
        self.admin_actors = [1, *self.admins, *self.ops]  # PRIMARY_ADMIN is user 1

    # ------------------------------------------------------------------ clean events
    def pick_product(self, serial: float, lot: float) -> tuple[int, int]:
        r = self.R.random()
        if r < serial:
            return self.R.choice(self.p_serial), 1
        if r < serial + lot:
            return self.R.choice(self.p_lot), self.R.randint(2, 20)
        return self.R.choice(self.p_reusable), 1

    def consigned_custodian(self, user: int, t: int) -> int:
        """A custodian whose consigned stock ``user`` may use at ``t`` (OWN, SHARE or OVER_REP)."""
        r = self.R.random()
        if self.role[user] in ADMIN_ROLES:  # ADMIN path: any holder's stock, ORG's too
            return self.R.choice(self.holders + [0])
        if self.role[user] == "SALES":
            if r < 0.45:
                d = self.dist_at(user, t)
                if d and self.sharing_on(d, t):
                    return d  # DISTRIBUTOR_SHARE
            return user  # OWN
        if r < 0.5 and self.core.get(user):
            return self.R.choice(self.core[user])  # DISTRIBUTOR_OVER_REP (permanent link)
        return user

    def fs_user(self, seller: int, t: int) -> int | None:
        """A case representative with a path to ``seller`` at ``t`` (never custodian-only)."""
        if self.R.random() < 0.02:
            return self.R.choice(self.admin_actors)  # ADMIN path
        cands = []
        if not self.co[seller]:
            cands.append(seller)
        if (
            self.role[seller] == "DISTRIBUTOR"
            and self.core.get(seller)
            and self.sharing_on(seller, t)
        ):
            cands.append(self.R.choice(self.core[seller]))
        if self.role[seller] == "SALES":
            d = self.dist_at(seller, t)
            if d and not self.co[d]:
                cands.append(d)
        return self.R.choice(cands) if cands else None

    def case_lines_count(self) -> int:
        return 1 + min(int(self.R.expovariate(1 / 1.3)), 8)

    def simulate(self) -> None:
        s, R = self.scale, self.R
        n = s.items
        fac = s.facilities
        used = 0
        second: list[tuple[int, int, int, int]] = []  # (user, item, t, qty)
        # consigned sale cases ------------------------------------------------
        target = int(n * 0.34)
        while used < target:
            u = R.choice(self.actors) if R.random() > 0.01 else R.choice(self.admin_actors)
            t = self.uniform_t(START + 40 * DAY, END - 3 * DAY)
            status, sub, upd = self.submitted_times(t)
            ev = self.event(
                "CASE", u, R.randrange(fac), t, status, sub, open_t=self.open_version(t), upd=upd
            )
            for _ in range(self.case_lines_count()):
                c = self.consigned_custodian(u, t)
                prod, q0 = self.pick_product(0.45, 0.35)
                item = self.new_item(prod, q0, c, t)
                used += 1
                if R.random() < 0.04:  # brought to the case but not used
                    self.line(ev, item, 1, "UNUSED", self.price(prod), False, 0, t)
                    continue
                q = q0 if q0 == 1 or R.random() < 0.5 else R.randint(1, q0 - 1)
                price = self.price(prod)
                nc = R.random() < 0.03
                billed = 0 if nc else price * q
                usage = R.choice(("USED", "IMPLANTED", "IMPLANTED", "IN_OUT"))
                self.line(ev, item, q, usage, price, nc, billed, t)
                if not nc:
                    self.ledger.sale(price, q)
                single = self.products[prod]["is_single_use"]
                left = q0 - q if single else 1
                if left > 0 and c == u and R.random() < 0.35:
                    second.append((u, item, t, left))
        for u, item, t, left in second:  # partial use of a lot / reuse of an instrument
            if t > END - 6 * DAY:
                continue
            t2 = self.uniform_t(t + DAY, min(t + 200 * DAY, END - 3 * DAY))
            status, sub, upd = self.submitted_times(t2)
            ev = self.event("CASE", u, R.randrange(fac), t2, status, sub, upd=upd)
            prod = self.it_prod[item]
            q = left if R.random() < 0.5 else R.randint(1, left)
            price = self.price(prod)
            self.line(ev, item, q, "USED", price, False, price * q, t2)
            self.ledger.sale(price, q)
        # stocking orders, direct sales and the life of facility stock -------
        target = used + int(n * 0.30)
        while used < target:
            r = R.random()
            seller = R.choice(self.co_d if r < 0.4 else self.full_d if r < 0.6 else self.sales)
            f = R.randrange(fac)
            t_sub = self.uniform_t(START + 40 * DAY, END - 10 * DAY)
            date = t_sub - self.uniform_t(HOUR, 2 * DAY)
            direct = R.random() < 0.15
            status = self.submitted_status()
            ev = self.event(
                "STOCKING_ORDER",
                seller,
                f,
                date,
                status,
                t_sub,
                direct,
                open_t=self.open_version(date),
                upd=t_sub,
            )
            stock: list[list[int]] = []  # [item, remaining, price]
            for _ in range(1 + min(int(R.expovariate(1 / 1.6)), 9)):
                prod, q0 = (
                    self.pick_product(0.6, 0.3 if not direct else 0.15)
                    if direct
                    else self.pick_product(0.6, 0.4)
                )
                item = self.new_item(prod, q0, seller, date)
                used += 1
                price = self.price(prod)
                nc = R.random() < 0.03
                self.line(ev, item, q0, "USED", price, nc, 0 if nc else price * q0, t_sub)
                if not nc:
                    self.ledger.sale(price, q0)
                if not direct:
                    stock.append([item, q0, price])
            if direct:
                continue
            t = t_sub
            for _ in range(R.choice((0, 1, 1, 2, 2, 3))):
                t = (
                    self.uniform_t(t + DAY, min(t + 150 * DAY, END - 2 * DAY))
                    if t < END - 4 * DAY
                    else END
                )
                if t >= END - 2 * DAY:
                    break
                u = self.fs_user(seller, t)
                if u is None:
                    continue
                picks = [st for st in stock if st[1] > 0 and R.random() < 0.6]
                if not picks:
                    continue
                status, sub, upd = self.submitted_times(t)
                ev2 = self.event("CASE", u, f, t, status, sub, open_t=self.open_version(t), upd=upd)
                for st in picks:
                    q = st[1] if st[1] == 1 or R.random() < 0.4 else R.randint(1, st[1] - 1)
                    self.line(ev2, st[0], q, R.choice(("USED", "IMPLANTED")), st[2], False, 0, t)
                    st[1] -= q
                t = max(t, sub)
            left = [st for st in stock if st[1] > 0]
            r = R.random()
            if left and r < 0.2 and t < END - 5 * DAY:
                etype, usage = (
                    ("RETURN", "USED") if r < 0.15 else ("STOCK_ADJUSTMENT", "DAMAGED_WASTE")
                )
                date2 = self.uniform_t(t + DAY, min(t + 90 * DAY, END - 3 * DAY))
                status, sub, upd = self.submitted_times(date2)
                ev3 = self.event(etype, seller, f, date2, status, sub, upd=upd)
                for st in left:
                    no = self.line(ev3, st[0], st[1], usage, st[2], False, 0, sub)
                    if etype == "RETURN":
                        self.truth.append(("FS_RETURNED", ev3, no, st[0], seller, None, f, None))
                    st[1] = 0
            for st in stock:
                if st[1] > 0:
                    self.ledger.facility_stock[st[0]] = [f, seller, st[2], st[1]]
        # events with no effect on stock or sales ---------------------------
        target = used + int(n * 0.05)
        while used < target:
            r = R.random()
            t = self.uniform_t(START + 40 * DAY, END - 3 * DAY)
            f = R.randrange(fac)
            if r < 0.35:  # an open or cancelled case or stocking order
                etype = "CASE" if r < 0.25 else "STOCKING_ORDER"
                u = R.choice(self.actors) if etype == "CASE" else R.choice(self.holders)
                status = R.choice(("OPEN", "CANCELLED"))
                open_t = (
                    max(t - self.uniform_t(HOUR, 5 * DAY), START) if status == "CANCELLED" else None
                )
                upd = min(t + self.uniform_t(HOUR, 5 * DAY), END - HOUR)
                ev = self.event(etype, u, f, t, status, None, open_t=open_t, upd=upd)
                usage = "USED"
            else:
                etype = R.choice(("LOAN", "SAMPLE", "TRIAL", "OTHER", "DAMAGE"))
                u = R.choice(self.actors)
                status, sub, upd = self.submitted_times(t)
                ev = self.event(etype, u, f, t, status, sub, upd=upd)
                usage = "DAMAGED_WASTE" if etype == "DAMAGE" else "UNUSED"
            for _ in range(R.choice((1, 1, 2))):
                prod, q0 = self.pick_product(0.5, 0.3)
                item = self.new_item(prod, q0, u, t)
                used += 1
                when = self.events[ev][5] or t
                self.line(
                    ev,
                    item,
                    1 if usage != "DAMAGED_WASTE" else q0,
                    usage,
                    self.price(prod),
                    False,
                    0,
                    max(when, t),
                )
        # items that stay where they are ----------------------------------
        pool = self.holders
        while used < n:
            prod, q0 = self.pick_product(0.5, 0.3)
            c = 0 if R.random() < 0.15 else R.choice(pool)
            self.new_item(prod, q0, c, self.uniform_t(START + 30 * DAY, END - HOUR))
            used += 1

    # ------------------------------------------------------------------ chains
    def draw_chains(self):
        s = self.scale
        rng = self.rng
        auto = np.array(self.auto, dtype=np.int64).reshape(-1, 3)
        final, t_end = auto[:, 1], auto[:, 2]
        m = float(s.transfers_per_item)
        k = 1 + np.minimum(rng.poisson(max(0.8 * m - 1, 0.1), len(auto)), 40)
        k = np.where(final == 0, np.maximum(k, 2), k)
        k_na = rng.poisson(0.2 * m, len(auto))
        pool = np.array(self.holders + [0] * max(1, len(self.holders) // 10), dtype=np.int64)
        ch = build_chains(rng, final, t_end, k, k_na, pool, START)
        codes = auto[:, 0]
        created = np.array(self.it_created, dtype=np.int64)
        created[codes] = ch.created
        self.created = created
        self.chains = ch
        self.chain_item_codes = codes
        # expiration: single-use items expire 1-4 years after creation, and never before
        # 45 days after their last use; most reusable instruments carry no expiration.
        n = len(self.it_prod)
        single = np.array(
            [self.products[p]["is_single_use"] if p >= 0 else True for p in self.it_prod]
        )
        last = np.array(self.it_last_use, dtype=np.int64)
        base = created + rng.integers(400 * DAY, 1500 * DAY, n)
        floor = np.where(last > 0, last + 45 * DAY + rng.integers(0, 200 * DAY, n), 0)
        exp = np.maximum(base, floor) // DAY
        reusable_null = ~single & (rng.random(n) < 0.7)
        given = np.array(
            [e if e is not None and e != -2 else -1 for e in self.it_exp], dtype=np.int64
        )
        is_given = np.array([e != -2 for e in self.it_exp])
        exp = np.where(is_given, given, np.where(reusable_null, -1, exp))
        self.exp_days = exp  # -1 = null

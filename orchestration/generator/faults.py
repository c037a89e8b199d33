"""Injected anomalies with ground truth.

Every scenario works on fresh items and events (and, for link faults, fresh users) so that it
raises exactly the exception rows it lists and nothing cascades into the clean history. Keys
follow the key convention of docs/architecture.md (key_columns of the seed
dbt_project/seeds/exception_codes.csv):
``(code, event, line_no, item, user, related_user, facility, transfer)``; a transfer is given
as ``("x", index)`` into the explicit transfers and resolved to its id on writing.
"""

from __future__ import annotations

from collections.abc import Callable

from orchestration.generator.chains import DAY, HOUR
from orchestration.generator.sim import END, START, History

UNKNOWN_USER = 90_000  # user codes >= this name no user
UNKNOWN_FACILITY = 90_000
UNKNOWN_PRODUCT = 900_000


class Faults:
    def __init__(self, h: History):
        self.h = h
        self.R = h.R
        self.n_unknown = 0
        self.counts: dict[str, int] = {}

    # ------------------------------------------------------------------ building blocks
    def unknown(self) -> int:
        self.n_unknown += 1
        return self.n_unknown

    def t(self) -> int:
        return self.h.uniform_t(START + 120 * DAY, END - 80 * DAY)

    def fac(self) -> int:
        return self.R.randrange(len(self.h.facilities))

    def two_facilities(self) -> tuple[int, int]:
        a, b = self.R.sample(range(len(self.h.facilities)), 2)
        return a, b

    def indep(self, k: int = 1) -> list[int]:
        return self.R.sample(self.h.independent, k)

    def fresh(self, holder: int, t: int, kind: str = "serial", qty: int = 1, exp_days=None) -> int:
        """A new item that reaches ``holder`` (from ORG) well before ``t``."""
        h = self.h
        prod = self.R.choice({"serial": h.p_serial, "lot": h.p_lot, "reusable": h.p_reusable}[kind])
        created = t - h.uniform_t(10 * DAY, 40 * DAY)
        if exp_days is None:
            exp_days = (t + h.uniform_t(500 * DAY, 900 * DAY)) // DAY
        item = h.explicit_item(prod, qty, 0, created, exp_days)
        moved = created + h.uniform_t(2 * HOUR, 3 * DAY)
        h.transfer(item, 0, holder, qty, "ACCEPTED", moved - HOUR, moved, moved)
        return item

    def case(self, rep, fac, t, lines, status=None):
        """lines: (item, qty, usage, price, no_charge, billed) -> event, [line numbers]."""
        h = self.h
        if status in ("OPEN", "CANCELLED"):
            ev = h.event("CASE", rep, fac, t, status, None, upd=t + HOUR)
        else:
            st, sub, upd = h.submitted_times(t)
            ev = h.event("CASE", rep, fac, t, st, sub, upd=upd)
        nos = [h.line(ev, it, q, us, p, nc, b, t) for it, q, us, p, nc, b in lines]
        return ev, nos

    def so(self, rep, fac, t_sub, item, qty, price, direct=False, ledger=True):
        h = self.h
        ev = h.event(
            "STOCKING_ORDER", rep, fac, t_sub - 2 * HOUR, "CLOSED", t_sub, direct, upd=t_sub
        )
        no = h.line(ev, item, qty, "USED", price, False, price * qty, t_sub)
        if ledger:
            h.ledger.sale(price, qty)
        return ev, no

    def price(self, item) -> int:
        return self.h.price(self.h.it_prod[item])

    def sale_case(self, rep, fac, t, item, qty=1, billed=None, no_charge=False):
        p = self.price(item)
        b = (0 if no_charge else p * qty) if billed is None else billed
        ev, (no,) = self.case(rep, fac, t, [(item, qty, "IMPLANTED", p, no_charge, b)])
        if not no_charge:
            self.h.ledger.sale(p, qty)
        return ev, no

    def fs_sold(self, seller, fac, t, kind="serial", qty=1):
        """Fresh item sold as facility stock by ``seller`` at ``t``: (item, price)."""
        item = self.fresh(seller, t, kind, qty)
        p = self.price(item)
        self.so(seller, fac, t, item, qty, p)
        return item, p

    def add(self, *row) -> None:
        self.h.truth.append(tuple(row))
        self.counts[row[0]] = self.counts.get(row[0], 0) + 1

    def off_windows(self) -> list[tuple[int, int, int]]:
        """(distributor, off_from, off_until) of sharing-off windows of distributors with reps."""
        out = []
        for d in sorted(self.h.share_rows):
            rows = self.h.share_rows[d]
            for i, (eff, on) in enumerate(rows):
                if not on and self.h.core.get(d):
                    until = rows[i + 1][0] if i + 1 < len(rows) else END
                    if until - eff > 10 * DAY and eff > START + 30 * DAY:
                        out.append((d, eff, until))
        return out

    def churn_gaps(self) -> list[tuple[int, int, int, int]]:
        """(rep, former distributor, gap_from, gap_until): a churn rep linked to nobody."""
        out = []
        for rep in self.h.churn:
            (a1, u1, da), (a2, _u2, _db) = self.h.links_of[rep][:2]
            out.append((rep, da, u1, a2))
        return out

    def same_team(self) -> tuple[int, int, int] | None:
        teams = [(d, reps) for d, reps in sorted(self.h.core.items()) if len(reps) >= 2]
        if not teams:
            return None
        d, reps = self.R.choice(teams)
        a, b = self.R.sample(reps, 2)
        return d, a, b

    # ------------------------------------------------------------------ scenarios
    def fs_wrong_facility(self, v):
        s = self.indep()[0]
        f1, f2 = self.two_facilities()
        t = self.t()
        item, p = self.fs_sold(s, f1, t)
        ev, (no,) = self.case(s, f2, t + 10 * DAY, [(item, 1, "IMPLANTED", p, False, 0)])
        self.add("FS_WRONG_FACILITY", ev, no, item, s, None, f2, None)

    def fs_ineligible_rep(self, v):
        f = self.fac()
        if v == 1 and self.off_windows():
            d, off, until = self.R.choice(self.off_windows())
            rep = self.R.choice(self.h.core[d])
            item, p = self.fs_sold(d, f, off - 5 * DAY)
            t = off + (until - off) // 2
        elif v == 2 and self.same_team():
            _d, seller, rep = self.same_team()
            t = self.t()
            item, p = self.fs_sold(seller, f, t)
            t += 7 * DAY
        else:
            seller, rep = self.indep(2)
            t = self.t()
            item, p = self.fs_sold(seller, f, t)
            t += 7 * DAY
        ev, (no,) = self.case(rep, f, t, [(item, 1, "IMPLANTED", p, False, 0)])
        self.add("FS_INELIGIBLE_REP", ev, no, item, rep, None, f, None)

    def outside_custody(self, v):
        f, t, nc = self.fac(), self.t(), False
        custodian, rep = self.indep(2)
        if v == 1 and self.same_team():
            _d, custodian, rep = self.same_team()
        elif v == 2:
            nc = True
        elif v == 3 and self.churn_gaps():
            rep, custodian, gap_from, gap_until = self.R.choice(self.churn_gaps())
            t = gap_from + (gap_until - gap_from) // 2
        elif v == 4 and self.off_windows():
            custodian, off, until = self.R.choice(self.off_windows())
            rep = self.R.choice(self.h.core[custodian])
            t = off + (until - off) // 2
        elif v == 6:  # a regional manager has no path to anyone's stock
            rep = self.R.choice(self.h.rms)
        elif v == 5:
            # a custodian-only distributor never acts, not even on its own reps' custody
            teams = [d for d in self.h.co_d if self.h.core.get(d)]
            if teams:
                rep = self.R.choice(teams)
                custodian = self.R.choice(self.h.core[rep])
        item = self.fresh(custodian, t)
        ev, no = self.sale_case(rep, f, t, item, no_charge=nc)
        self.add("OUTSIDE_CUSTODY", ev, no, item, rep, None, f, None)
        if self.h.co[rep]:
            self.add("CUSTODIAN_ONLY_REP", ev, None, None, rep, None, f, None)

    def double_billed(self, v):
        s, f, t = self.indep()[0], self.fac(), self.t()
        kind, qty, use = ("lot", 5, 2) if v == 1 else ("serial", 1, 1)
        item, p = self.fs_sold(s, f, t, kind, qty)
        ev, (no,) = self.case(s, f, t + 9 * DAY, [(item, use, "USED", p, False, p * use)])
        self.h.ledger.double_billed_cents += p * use
        if qty > use:
            self.h.ledger.facility_stock[item] = [f, s, p, qty - use]
        self.add("DOUBLE_BILLED", ev, no, item, s, None, f, None)

    def unbilled_sale(self, v):
        s, f, t = self.indep()[0], self.fac(), self.t()
        kind, qty = ("lot", 4) if v == 1 else ("serial", 1)
        item = self.fresh(s, t, kind, qty + 3 if kind == "lot" else 1)
        ev, no = self.sale_case(s, f, t, item, qty, billed=0)
        self.add("UNBILLED_SALE", ev, no, item, s, None, f, None)

    def billed_amount_mismatch(self, v):
        s, f, t = self.indep()[0], self.fac(), self.t()
        item = self.fresh(s, t, "lot", 6) if v == 1 else self.fresh(s, t)
        p = self.price(item)
        qty = 3 if v == 1 else 1
        billed = p * (qty - 1) if v == 1 else p * qty + 1_000
        ev, no = self.sale_case(s, f, t, item, qty, billed=billed)
        self.add("BILLED_AMOUNT_MISMATCH", ev, no, item, s, None, f, None)

    def sold_twice(self, v):
        s, f, t = self.indep()[0], self.fac(), self.t()
        item = self.fresh(s, t)
        p = self.price(item)
        if v == 1:  # sold on two stocking orders while active: still facility stock, once
            self.so(s, f, t, item, 1, p)
            ev, no = self.so(s, f, t + 20 * DAY, item, 1, p)
            self.h.ledger.facility_stock[item] = [f, s, p, 1]
            self.add("SOLD_TWICE", ev, no, item, s, None, f, None)
        else:  # a used single-use item sold again in a later case
            self.sale_case(s, f, t, item)
            f2 = self.fac()
            ev, no = self.sale_case(s, f2, t + 15 * DAY, item)
            self.add("SOLD_TWICE", ev, no, item, s, None, f2, None)
            self.add("INACTIVE_ITEM_USED", ev, no, item, s, None, f2, None)

    def mixed_case(self, v):
        s, f, t = self.indep()[0], self.fac(), self.t()
        fs_item, p1 = self.fs_sold(s, f, t)
        item = self.fresh(s, t + 5 * DAY)
        p2 = self.price(item)
        ev, _ = self.case(
            s,
            f,
            t + 8 * DAY,
            [(fs_item, 1, "IMPLANTED", p1, False, 0), (item, 1, "IMPLANTED", p2, False, p2)],
        )
        self.h.ledger.sale(p2, 1)
        self.add("MIXED_CASE", ev, None, None, s, None, f, None)

    def inactive_item_used(self, v):
        s, f, t = self.indep()[0], self.fac(), self.t()
        kind = "serial" if v == 0 else "reusable"
        item = self.fresh(s, t, kind)
        p = self.price(item)
        self.so(s, f, t, item, 1, p, direct=True)
        later = t + 12 * DAY
        if v == 0:  # transferred after a direct sale
            s2 = self.indep()[0]
            while s2 == s:
                s2 = self.indep()[0]
            x = self.h.transfer(item, s, s2, 1, "ACCEPTED", later - HOUR, later, later)
            self.add("INACTIVE_ITEM_USED", None, None, item, None, None, None, ("x", x))
        elif v == 1:  # a direct-sold reusable item sold again on a stocking order
            ev, no = self.so(s, f, later, item, 1, p)
            self.add("INACTIVE_ITEM_USED", ev, no, item, s, None, f, None)
        else:  # ... or used in a case
            ev, no = self.sale_case(s, f, later, item)
            self.add("INACTIVE_ITEM_USED", ev, no, item, s, None, f, None)

    def fs_transferred(self, v):
        s, s2 = self.indep(2)
        f, t = self.fac(), self.t()
        item, p = self.fs_sold(s, f, t)
        later = t + 6 * DAY
        x = self.h.transfer(item, s, s2, 1, "ACCEPTED", later - 2 * HOUR, later, later)
        self.h.ledger.facility_stock[item] = [f, s, p, 1]
        self.add("FS_TRANSFERRED", None, None, item, None, None, f, ("x", x))

    def transfer_not_from_custodian(self, v):
        s1, s2, s3 = self.indep(3)
        t = self.t()
        item = self.fresh(s1, t, "lot" if v == 1 else "serial", 4 if v == 1 else 1)
        x = self.h.transfer(item, s2, s3, self.h.it_qty[item], "ACCEPTED", t - HOUR, t, t)
        self.add("TRANSFER_NOT_FROM_CUSTODIAN", None, None, item, None, None, None, ("x", x))

    def so_not_in_custody(self, v):
        s1, s2 = self.indep(2)
        f, t = self.fac(), self.t()
        item = self.fresh(s1, t)
        p = self.price(item)
        ev, no = self.so(s2, f, t, item, 1, p)
        self.h.ledger.facility_stock[item] = [f, s2, p, 1]
        self.add("SO_NOT_IN_CUSTODY", ev, no, item, s2, None, f, None)

    def link_invalid_roles(self, v):
        h = self.h
        t = self.t()
        pairs = (
            ("SALES", "SALES"),
            ("DISTRIBUTOR", "DISTRIBUTOR"),
            ("ADMIN", "SALES"),
            ("SALES", "DISTRIBUTOR"),
        )
        a_role, b_role = pairs[v % len(pairs)]
        a = h.add_user(a_role, created=t - 30 * DAY)
        b = h.add_user(b_role, created=t - 30 * DAY)
        h.add_link(a, b, t, check=False)
        self.add("LINK_INVALID_ROLES", None, None, None, a, b, None, None)

    def link_overlap(self, v):
        h = self.h
        t = self.t()
        x = h.add_user("SALES", created=t - 60 * DAY)
        d1, d2, d3 = self.R.sample(h.full_d + h.co_d, 3)
        if v == 0:
            h.add_link(d1, x, t - 30 * DAY, check=False)
            h.add_link(d2, x, t, t + 20 * DAY, check=False)
            self.add("LINK_OVERLAP", None, None, None, x, d2, None, None)
        elif v == 1:
            h.add_link(d1, x, t - 30 * DAY, t + 10 * DAY, check=False)
            h.add_link(d2, x, t, check=False)
            self.add("LINK_OVERLAP", None, None, None, x, d2, None, None)
        else:
            h.add_link(d1, x, t - 30 * DAY, check=False)
            h.add_link(d2, x, t, t + 5 * DAY, check=False)
            h.add_link(d3, x, t + 10 * DAY, t + 20 * DAY, check=False)
            self.add("LINK_OVERLAP", None, None, None, x, d2, None, None)
            self.add("LINK_OVERLAP", None, None, None, x, d3, None, None)

    def non_custodial_holder(self, v):
        h = self.h
        t = self.t()
        if v == 0:
            admin = self.R.choice(h.admins)
            item = self.fresh(admin, t)
            self.add(
                "NON_CUSTODIAL_HOLDER",
                None,
                None,
                item,
                admin,
                None,
                None,
                ("x", len(h.x_transfers) - 1),
            )
        elif v == 1:
            ops = self.R.choice(h.ops)
            prod = self.R.choice(h.p_serial)
            item = h.explicit_item(prod, 1, ops, t, (t + 800 * DAY) // DAY)
            self.add("NON_CUSTODIAL_HOLDER", None, None, item, ops, None, None, None)
        else:
            s = self.indep()[0]
            rm = self.R.choice(h.rms)
            item = self.fresh(s, t)
            x = h.transfer(item, s, rm, 1, "ACCEPTED", t, t + HOUR, t + HOUR)
            h.transfer(item, rm, s, 1, "ACCEPTED", t + 3 * DAY, t + 4 * DAY, t + 4 * DAY)
            self.add("NON_CUSTODIAL_HOLDER", None, None, item, rm, None, None, ("x", x))

    def custodian_only_rep(self, v):
        h = self.h
        f, t = self.fac(), self.t()
        if v == 0:  # a submitted sale case on its own custody (OWN path: no other flag)
            d = self.R.choice(h.co_d)
            item = self.fresh(d, t)
            ev, _ = self.sale_case(d, f, t, item)
            self.add("CUSTODIAN_ONLY_REP", ev, None, None, d, None, f, None)
        else:  # an open or cancelled case: flagged whatever its status
            u = self.R.choice(h.co_sales if v == 1 else h.co_d)
            item = self.fresh(u, t)
            p = self.price(item)
            status = "OPEN" if v == 1 else "CANCELLED"
            ev, _ = self.case(u, f, t, [(item, 1, "IMPLANTED", p, False, 0)], status=status)
            self.add("CUSTODIAN_ONLY_REP", ev, None, None, u, None, f, None)

    def expired_item_used(self, v):
        s, f, t = self.indep()[0], self.fac(), self.t()
        exp = (t - self.h.uniform_t(5 * DAY, 30 * DAY)) // DAY
        kind, qty = ("lot", 5) if v == 1 else ("serial", 1)
        item = self.fresh(s, t, kind, qty, exp_days=exp)
        self.h.it_created[item] = min(self.h.it_created[item], (exp - 200) * DAY)
        ev, no = self.sale_case(s, f, t, item, 2 if v == 1 else 1)
        self.add("EXPIRED_ITEM_USED", ev, no, item, s, None, f, None)

    def fs_returned(self, v):
        s, f, t = self.indep()[0], self.fac(), self.t()
        kind, qty = ("lot", 6) if v == 1 else ("serial", 1)
        item, p = self.fs_sold(s, f, t, kind, qty)
        h = self.h
        if v == 1:  # part used at the facility first, the rest returned
            self.case(s, f, t + 5 * DAY, [(item, 2, "USED", p, False, 0)])
            qty -= 2
        date = t + 20 * DAY
        ev = h.event("RETURN", s, f, date, "COMPLETED", date + DAY, upd=date + DAY)
        no = h.line(ev, item, qty, "USED", p, False, 0, date + DAY)
        self.add("FS_RETURNED", ev, no, item, s, None, f, None)

    def unknown_reference(self, v):
        h = self.h
        f, t = self.fac(), self.t()
        s = self.indep()[0]
        if v in (0, 1, 2):
            rep = UNKNOWN_USER + self.unknown() if v == 0 else s
            fac = UNKNOWN_FACILITY + self.unknown() if v == 1 else f
            etype = "LOAN" if v == 0 else "OTHER"
            st, sub, upd = h.submitted_times(t)
            ev = h.event(etype, rep, fac, t, st, sub, upd=upd)
            if v == 2:
                unk = -self.unknown()
                no = h.line(ev, unk, 1, "UNUSED", 10_000, False, 0)
                self.add("UNKNOWN_REFERENCE", ev, no, unk, None, None, None, None)
            else:
                item = self.fresh(s, t)
                h.line(ev, item, 1, "UNUSED", self.price(item), False, 0, sub)
                self.add(
                    "UNKNOWN_REFERENCE",
                    ev,
                    None,
                    None,
                    rep if v == 0 else None,
                    None,
                    fac if v == 1 else None,
                    None,
                )
        elif v == 3:  # an item of a product that does not exist, never used
            item = h.explicit_item(
                -(UNKNOWN_PRODUCT + self.unknown()), 1, 0, t, (t + 900 * DAY) // DAY
            )
            self.add("UNKNOWN_REFERENCE", None, None, item, None, None, None, None)
        elif v == 4:  # a link to a user that does not exist
            d = self.R.choice(h.full_d + h.co_d)
            unk = UNKNOWN_USER + self.unknown()
            h.add_link(d, unk, t, check=False)
            self.add("UNKNOWN_REFERENCE", None, None, None, d, unk, None, None)
        elif v == 5:  # a declined transfer to a user that does not exist
            item = self.fresh(s, t)
            unk = UNKNOWN_USER + self.unknown()
            x = h.transfer(item, s, unk, 1, "DECLINED", t, t + DAY, t + DAY)
            self.add("UNKNOWN_REFERENCE", None, None, item, unk, None, None, ("x", x))
        elif v == 6:  # a sharing setting of a distributor that does not exist
            unk = UNKNOWN_USER + self.unknown()
            h.add_sharing(unk, False, t)
            self.add("UNKNOWN_REFERENCE", None, None, None, unk, None, None, None)
        elif v == 8:  # an item whose initial custodian does not exist, never used
            unk = UNKNOWN_USER + self.unknown()
            item = h.explicit_item(self.R.choice(h.p_serial), 1, unk, t, (t + 900 * DAY) // DAY)
            self.add("UNKNOWN_REFERENCE", None, None, item, unk, None, None, None)
        elif v == 9:  # a line of an event that does not exist, on an item no one uses
            unk = -self.unknown()
            h.orphan_line(unk, self.fresh(s, t), t)
            self.add("UNKNOWN_REFERENCE", unk, 1, None, None, None, None, None)
        else:  # a pending transfer of an item that does not exist
            unk = -self.unknown()
            x = h.transfer(unk, s, self.indep()[0], 1, "PENDING", t, None, t)
            self.add("UNKNOWN_REFERENCE", None, None, unk, None, None, None, ("x", x))

    # ------------------------------------------------------------------ driver
    def scenarios(self) -> list[tuple[str, Callable[[int], None], int]]:
        return [
            ("FS_WRONG_FACILITY", self.fs_wrong_facility, 1),
            ("FS_INELIGIBLE_REP", self.fs_ineligible_rep, 3),
            ("OUTSIDE_CUSTODY", self.outside_custody, 7),
            ("DOUBLE_BILLED", self.double_billed, 2),
            ("UNBILLED_SALE", self.unbilled_sale, 2),
            ("BILLED_AMOUNT_MISMATCH", self.billed_amount_mismatch, 2),
            ("SOLD_TWICE", self.sold_twice, 2),
            ("MIXED_CASE", self.mixed_case, 1),
            ("INACTIVE_ITEM_USED", self.inactive_item_used, 3),
            ("FS_TRANSFERRED", self.fs_transferred, 1),
            ("TRANSFER_NOT_FROM_CUSTODIAN", self.transfer_not_from_custodian, 2),
            ("SO_NOT_IN_CUSTODY", self.so_not_in_custody, 1),
            ("LINK_INVALID_ROLES", self.link_invalid_roles, 4),
            ("LINK_OVERLAP", self.link_overlap, 3),
            ("NON_CUSTODIAL_HOLDER", self.non_custodial_holder, 3),
            ("CUSTODIAN_ONLY_REP", self.custodian_only_rep, 3),
            ("EXPIRED_ITEM_USED", self.expired_item_used, 2),
            ("FS_RETURNED", self.fs_returned, 2),
            ("UNKNOWN_REFERENCE", self.unknown_reference, 10),
        ]

    def inject(self, per_code: int) -> None:
        for _code, fn, variants in self.scenarios():
            for i in range(max(per_code, variants)):
                fn(i % variants)

"""Hand-written scenarios for the independent oracle (tests/oracle), one group per rule."""

from __future__ import annotations

import csv
import time
from datetime import date, datetime, timedelta
from decimal import Decimal

import oracle
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import builder
from oracle.builder import T0, World, at

from orchestration import settings as project_settings

D = Decimal
SECOND = timedelta(seconds=1)


def world() -> World:
    return World().base()


def keys(result, code):
    """Exception rows of one code as (event_id, line_no, item_id, user_id, related_user_id,
    facility_id, transfer_id)."""
    return [k[1:] for k in result.exception_keys(code)]


def only_codes(result, *codes):
    assert set(result.codes()) == set(codes), result.codes()


# --------------------------------------------------------------------------- snapshot rule


def test_snapshot_newest_updated_at_wins_over_later_delivery():
    w = world()
    w.item("I1", custodian="S1", updated=at(2), file_id=1)
    w.item("I1", custodian="S2", updated=at(1), file_id=2)
    assert w.run().custodian_at("I1", at(5)) == "S1"


def test_snapshot_ties_broken_by_file_then_row():
    rows = [
        {
            "user_id": "U",
            "role": "SALES",
            "updated_at": T0,
            "_file_id": 2,
            "_row_number": 1,
            "is_custodian_only": False,
            "is_active": True,
            "created_at": T0,
        },
        {
            "user_id": "U",
            "role": "ADMIN",
            "updated_at": T0,
            "_file_id": 1,
            "_row_number": 9,
            "is_custodian_only": False,
            "is_active": True,
            "created_at": T0,
        },
        {
            "user_id": "U",
            "role": "DISTRIBUTOR",
            "updated_at": T0,
            "_file_id": 2,
            "_row_number": 0,
            "is_custodian_only": False,
            "is_active": True,
            "created_at": T0,
        },
    ]
    snap = oracle.snapshot({"users": rows})
    assert [u["role"] for u in snap["users"]] == ["SALES"]


def test_sharing_settings_later_delivery_wins():
    w = world()
    w.link("D1", "S1", T0)
    w.sharing("D1", True, at(2), file_id=2)
    w.sharing("D1", False, at(2), file_id=1)
    w.item("I1", custodian="D1")
    w.event("E1", rep="S1", date=at(5))
    w.line("E1", 1, "I1")
    r = w.run()
    assert r.line("E1", 1)["access_path"] == "DISTRIBUTOR_SHARE"


def test_event_closed_by_later_delivery_takes_effect():
    w = world()
    w.item("I1")
    w.event("E1", status="OPEN", date=at(5), updated=at(5), file_id=1)
    w.line("E1", 1, "I1")
    first = w.run()
    assert first.line("E1", 1)["usage_class"] == "NOT_SUBMITTED"
    assert first.inventory_status["I1"]["is_active"]
    w.event("E1", status="CLOSED", date=at(5), submitted=at(6), updated=at(6), file_id=2)
    r = w.run()
    assert r.line("E1", 1)["usage_class"] == "SALE"
    st = r.inventory_status["I1"]
    assert not st["is_active"]
    assert st["deactivated_at"] == at(5)  # a case line happens at event_date


def test_strings_and_offsets_are_coerced_to_naive_utc():
    w = world()
    w.item("I1", created="2025-01-01T02:00:00+02:00")
    r = w.run()
    assert r.custody_intervals[0]["valid_from"] == datetime(2025, 1, 1, 0, 0)


# --------------------------------------------------------------------------- R-1 custody


def test_r1_initial_custody_and_accepted_transfer():
    w = world()
    w.item("I1", custodian="S1", created=at(1))
    w.transfer("T1", "I1", "S1", "S2", at(3))
    r = w.run()
    assert r.custodian_at("I1", at(1) - SECOND) is None
    assert r.custodian_at("I1", at(1)) == "S1"
    assert r.custodian_at("I1", at(3) - SECOND) == "S1"
    assert r.custodian_at("I1", at(3)) == "S2"
    assert [(i["custodian_id"], i["valid_from"], i["valid_to"]) for i in r.custody_intervals] == [
        ("S1", at(1), at(3)),
        ("S2", at(3), None),
    ]
    only_codes(r)


@pytest.mark.parametrize("status", ["PENDING", "DECLINED", "HOLD"])
def test_r1_non_accepted_transfers_move_nothing(status):
    w = world()
    w.item("I1", custodian="S1")
    w.transfer("T1", "I1", "S1", "S2", at(3), status=status)
    r = w.run()
    assert r.custodian_at("I1", at(9)) == "S1"
    assert len(r.custody_intervals) == 1
    assert r.inventory_status["I1"]["custodian_id"] == "S1"


def test_r1_pending_transfer_does_not_give_access():
    w = world()
    w.item("I1", custodian="S1")
    w.transfer("T1", "I1", "S1", "S2", at(3), status="PENDING")
    w.event("E1", rep="S2", date=at(5))
    w.line("E1", 1, "I1")
    r = w.run()
    assert r.line("E1", 1)["custodian_at_use"] == "S1"
    assert keys(r, "OUTSIDE_CUSTODY") == [("E1", 1, "I1", "S2", None, "F1", None)]


def test_r1_accepted_without_responded_at_moves_at_updated_at():
    w = world()
    w.item("I1", custodian="S1")
    w.transfer("T1", "I1", "S1", "S2", at(4), created=at(2), responded=None, updated=at(4))
    r = w.run()
    assert r.custodian_at("I1", at(3)) == "S1"
    assert r.custodian_at("I1", at(4)) == "S2"


def test_r1_accepted_without_responded_or_updated_at_moves_at_created_at():
    w = world()
    w.item("I1", custodian="S1")
    tr = w.transfer("T1", "I1", "S1", "S2", at(4), created=at(2), responded=None)
    tr["updated_at"] = None
    r = w.run()
    assert r.custodian_at("I1", at(2)) == "S2"


def test_transfers_at_one_instant_apply_in_transfer_id_order():
    w = world()
    w.item("I1", custodian="S1")
    w.transfer("T2", "I1", "S2", "S3", at(3))
    w.transfer("T1", "I1", "S1", "S2", at(3))
    r = w.run()
    assert r.custodian_at("I1", at(3)) == "S3"
    assert [i["transfer_id"] for i in r.custody_intervals] == [None, "T1", "T2"]
    only_codes(r)


def test_transfer_accepted_at_same_instant_as_case_counts():
    w = world()
    w.item("I1", custodian="S1")
    w.transfer("T1", "I1", "S1", "S2", at(5))
    w.event("E1", rep="S2", date=at(5))
    w.line("E1", 1, "I1")
    r = w.run()
    row = r.line("E1", 1)
    assert row["custodian_at_use"] == "S2"
    assert row["access_path"] == "OWN"
    only_codes(r)


def test_transfer_accepted_a_second_after_the_case_does_not_count():
    w = world()
    w.item("I1", custodian="S1")
    w.transfer("T1", "I1", "S1", "S2", at(5) + SECOND)
    w.event("E1", rep="S2", date=at(5))
    w.line("E1", 1, "I1")
    r = w.run()
    assert r.line("E1", 1)["custodian_at_use"] == "S1"
    # the item is consumed at the case, so the later transfer hits an inactive item
    assert r.codes() == {"OUTSIDE_CUSTODY": 1, "INACTIVE_ITEM_USED": 1}


# --------------------------------------------------------------------------- R-2 holders


def test_r2_non_custodial_holder_initial_and_by_transfer():
    w = world()
    w.item("I1", custodian="RM", created=at(1))
    w.transfer("T1", "I1", "RM", "S1", at(2))
    w.transfer("T2", "I1", "S1", "ADM", at(3))
    w.item("I2", custodian="ORG")
    r = w.run()
    assert keys(r, "NON_CUSTODIAL_HOLDER") == [
        (None, None, "I1", "ADM", None, None, "T2"),
        (None, None, "I1", "RM", None, None, None),
    ]


def test_r2_unknown_custodian_is_unknown_reference_not_holder():
    w = world()
    w.item("I1", custodian="GHOST")
    w.item("I2", custodian="S1")
    w.transfer("T1", "I2", "S1", "NOBODY", at(2))
    r = w.run()
    only_codes(r, "UNKNOWN_REFERENCE")
    assert keys(r, "UNKNOWN_REFERENCE") == [
        (None, None, "I1", "GHOST", None, None, None),
        (None, None, "I2", "NOBODY", None, None, "T1"),
    ]
    assert r.custodian_at("I2", at(3)) == "NOBODY"  # the source is the record of custody


# ---------------------------------------------------------------------------


def test_r3_transfer_not_from_custodian_still_moves():
    w = world()
    w.item("I1", custodian="S1")
    w.transfer("T1", "I1", "S2", "S3", at(3))
    r = w.run()
    assert r.custodian_at("I1", at(3)) == "S3"
    assert keys(r, "TRANSFER_NOT_FROM_CUSTODIAN") == [(None, None, "I1", None, None, None, "T1")]
    only_codes(r, "TRANSFER_NOT_FROM_CUSTODIAN")


# --------------------------------------------------------------------------- R-4 links


def test_r4_link_invalid_roles_and_grants_nothing():
    w = world()
    w.link("S2", "S1", T0)  # sales-to-sales
    w.link("D1", "RM", T0)  # distributor to a regional manager
    w.item("I1", custodian="S2")
    w.event("E1", rep="S1", date=at(5))
    w.line("E1", 1, "I1")
    r = w.run()
    assert keys(r, "LINK_INVALID_ROLES") == [
        (None, None, None, "D1", "RM", None, None),
        (None, None, None, "S2", "S1", None, None),
    ]
    assert r.line("E1", 1)["access_path"] is None
    assert "OUTSIDE_CUSTODY" in r.codes()


def test_r4_link_to_unknown_user_is_unknown_reference_only():
    w = world()
    w.link("D1", "GHOST", T0)
    r = w.run()
    assert keys(r, "UNKNOWN_REFERENCE") == [(None, None, None, "D1", "GHOST", None, None)]
    only_codes(r, "UNKNOWN_REFERENCE")


# --------------------------------------------------------------------------- paths


def _case_on(custodian, rep, when=None, **link):
    w = world()
    w.item("I1", custodian=custodian)
    w.event("E1", rep=rep, date=when or at(5))
    w.line("E1", 1, "I1")
    return w


def test_r5_own():
    r = _case_on("S1", "S1").run()
    assert r.line("E1", 1)["access_path"] == "OWN"
    only_codes(r)


def test_r5_distributor_share():
    w = _case_on("D1", "S1")
    w.link("D1", "S1", at(2))
    r = w.run()
    assert r.line("E1", 1)["access_path"] == "DISTRIBUTOR_SHARE"
    only_codes(r)


def test_r5_custodian_only_distributor_shares_too():
    w = _case_on("DC", "S1")
    w.link("DC", "S1", at(2))
    assert w.run().line("E1", 1)["access_path"] == "DISTRIBUTOR_SHARE"


def test_r5_link_valid_from_linked_at_inclusive():
    w = _case_on("D1", "S1", when=at(5))
    w.link("D1", "S1", at(5))
    assert w.run().line("E1", 1)["access_path"] == "DISTRIBUTOR_SHARE"


def test_r5_link_ended_the_second_before_the_case():
    w = _case_on("D1", "S1", when=at(5))
    w.link("D1", "S1", at(2), unlinked=at(5) - SECOND)
    r = w.run()
    assert r.line("E1", 1)["access_path"] is None
    assert keys(r, "OUTSIDE_CUSTODY") == [("E1", 1, "I1", "S1", None, "F1", None)]


def test_r5_link_ending_at_the_case_instant_is_not_valid():
    w = _case_on("D1", "S1", when=at(5))
    w.link("D1", "S1", at(2), unlinked=at(5))
    assert w.run().line("E1", 1)["access_path"] is None


def test_r5_link_unlinked_by_a_later_delivery():
    w = _case_on("D1", "S1", when=at(5))
    w.link("D1", "S1", at(2), file_id=1)
    assert w.run().line("E1", 1)["access_path"] == "DISTRIBUTOR_SHARE"
    w.link("D1", "S1", at(2), unlinked=at(4), file_id=2)
    assert w.run().line("E1", 1)["access_path"] is None


def test_r5_sharing_switched_off():
    w = _case_on("D1", "S1", when=at(5))
    w.link("D1", "S1", at(2))
    w.sharing("D1", False, at(4))
    r = w.run()
    assert r.line("E1", 1)["access_path"] is None
    assert "OUTSIDE_CUSTODY" in r.codes()


def test_r5_sharing_on_before_first_row_and_switched_back_on():
    w = world()
    w.link("D1", "S1", T0)
    w.sharing("D1", False, at(4))
    w.sharing("D1", True, at(6))
    for n, day in ((1, 3), (2, 5), (3, 7)):
        w.item(f"I{n}", custodian="D1")
        w.event(f"E{n}", rep="S1", date=at(day))
        w.line(f"E{n}", 1, f"I{n}")
    r = w.run()
    assert [r.line(f"E{n}", 1)["access_path"] for n in (1, 2, 3)] == [
        "DISTRIBUTOR_SHARE",
        None,
        "DISTRIBUTOR_SHARE",
    ]


def test_r5_full_distributor_over_rep():
    w = _case_on("S1", "D1")
    w.link("D1", "S1", at(2))
    r = w.run()
    assert r.line("E1", 1)["access_path"] == "DISTRIBUTOR_OVER_REP"
    only_codes(r)


def test_r6_custodian_only_distributor_never_acts_on_rep_stock():
    w = _case_on("S1", "DC")
    w.link("DC", "S1", at(2))
    r = w.run()
    assert r.line("E1", 1)["access_path"] is None
    assert r.codes() == {"OUTSIDE_CUSTODY": 1, "CUSTODIAN_ONLY_REP": 1}


def test_r5_distributor_over_rep_ignores_sharing_setting():
    w = _case_on("S1", "D1")
    w.link("D1", "S1", at(2))
    w.sharing("D1", False, at(3))
    assert w.run().line("E1", 1)["access_path"] == "DISTRIBUTOR_OVER_REP"


@pytest.mark.parametrize("admin", ["ADM", "OPS"])
def test_r5_admin_path(admin):
    r = _case_on("S1", admin).run()
    assert r.line("E1", 1)["access_path"] == "ADMIN"
    only_codes(r)


def test_r5_regional_manager_has_no_admin_path():
    r = _case_on("S1", "RM").run()
    assert r.line("E1", 1)["access_path"] is None


def test_r6_sales_users_in_one_distributorship_never_reach_each_other():
    w = _case_on("S2", "S1")
    w.link("D1", "S1", T0)
    w.link("D1", "S2", T0)
    r = w.run()
    assert r.line("E1", 1)["access_path"] is None
    assert keys(r, "OUTSIDE_CUSTODY") == [("E1", 1, "I1", "S1", None, "F1", None)]


def test_r6_distributor_does_not_share_with_another_distributor():
    w = world()
    w.user("D2", "DISTRIBUTOR")
    w.item("I1", custodian="D1")
    w.event("E1", rep="D2", date=at(5))
    w.line("E1", 1, "I1")
    assert w.run().line("E1", 1)["access_path"] is None


def test_r6_org_stock_reachable_only_by_admin():
    w = world()
    w.item("I1", custodian="ORG")
    w.event("E1", rep="S1", date=at(5))
    w.line("E1", 1, "I1")
    assert "OUTSIDE_CUSTODY" in w.run().codes()


# --------------------------------------------------------------------------- R-7..R-9 stocking


def _stocking(
    w,
    item="I1",
    seller="S1",
    fac="F1",
    when=None,
    eid="SO1",
    price="100.00",
    qty=1,
    direct=False,
    **kw,
):
    w.event(
        eid,
        etype="STOCKING_ORDER",
        rep=seller,
        fac=fac,
        date=(when or at(3)) - SECOND,
        submitted=when or at(3),
        direct=direct,
    )
    w.line(eid, 1, item, qty=qty, price=price, **kw)


def test_r7_stocking_order_makes_facility_stock_custody_stays():
    w = world()
    w.item("I1", custodian="S1")
    _stocking(w, when=at(3))
    r = w.run()
    assert r.facility_stock == [
        {
            "item_id": "I1",
            "catalog_number": "P1",
            "facility_id": "F1",
            "seller_id": "S1",
            "stocking_order_id": "SO1",
            "stocking_order_line_no": 1,
            "sold_at": at(3),
            "quantity_sold": 1,
            "quantity_used": 0,
            "quantity_returned": 0,
            "quantity_adjusted": 0,
            "quantity_on_hand": 1,
            "unit_price": D("100.00"),
            "value_on_hand": D("100.00"),
            "status": "ON_HAND",
        }
    ]
    st = r.inventory_status["I1"]
    assert st["custodian_id"] == "S1" and st["is_active"] and st["is_facility_stock"]
    assert st["facility_id"] == "F1"
    line = r.line("SO1", 1)
    assert line["usage_class"] == "SALE" and line["access_path"] is None
    assert line["expected_amount"] == D("100.00")
    assert [(s["event_id"], s["sold_at"], s["amount"]) for s in r.sales] == [
        ("SO1", at(3), D("100.00"))
    ]
    assert r.figures["facility_stock_units_on_hand"] == 1
    assert r.figures["facility_stock_value_on_hand"] == D("100.00")
    only_codes(r)


def test_r7_stocking_order_takes_effect_at_submitted_at_not_event_date():
    w = world()
    w.item("I1", custodian="S1")
    w.event("SO1", etype="STOCKING_ORDER", date=at(2), submitted=at(6))
    w.line("SO1", 1, "I1")
    w.event("E1", date=at(4))
    w.line("E1", 1, "I1")
    r = w.run()
    assert r.line("E1", 1)["usage_class"] == "SALE"  # not yet facility stock at day 4
    assert "INACTIVE_ITEM_USED" in r.codes()  # consumed by the case before the sale


def test_r7_unused_stocking_line_and_no_charge_line():
    w = world()
    w.item("I1")
    w.item("I2")
    w.event("SO1", etype="STOCKING_ORDER", date=at(3))
    w.line("SO1", 1, "I1", usage="UNUSED")
    w.line("SO1", 2, "I2", no_charge=True)
    r = w.run()
    assert r.line("SO1", 1)["usage_class"] == "NOT_CONSUMED"
    assert r.line("SO1", 2)["usage_class"] == "NO_CHARGE"
    assert r.line("SO1", 2)["expected_amount"] == 0
    assert [f["item_id"] for f in r.facility_stock] == ["I2"]
    assert r.sales == []


def test_r7_open_or_cancelled_stocking_order_has_no_effect():
    w = world()
    w.item("I1")
    w.item("I2")
    w.event("SO1", etype="STOCKING_ORDER", status="OPEN", date=at(3))
    w.line("SO1", 1, "I1")
    w.event("SO2", etype="STOCKING_ORDER", status="CANCELLED", date=at(3), submitted=at(3))
    w.line("SO2", 1, "I2")
    r = w.run()
    assert r.facility_stock == [] and r.sales == []
    assert {r.line("SO1", 1)["usage_class"], r.line("SO2", 1)["usage_class"]} == {"NOT_SUBMITTED"}


def test_r8_direct_sale_deactivates_and_counts():
    w = world()
    w.item("I1", custodian="S1")
    _stocking(w, when=at(3), direct=True)
    r = w.run()
    assert r.facility_stock == []
    st = r.inventory_status["I1"]
    assert not st["is_active"] and not st["is_facility_stock"]
    assert st["deactivated_at"] == at(3) and st["deactivation_reason"] == "DIRECT_SALE"
    assert [s["amount"] for s in r.sales] == [D("100.00")]
    only_codes(r)


def test_r9_stocking_item_not_in_reps_custody_is_still_sold():
    w = world()
    w.item("I1", custodian="S2")
    _stocking(w, seller="S1", when=at(3))
    r = w.run()
    assert keys(r, "SO_NOT_IN_CUSTODY") == [("SO1", 1, "I1", "S1", None, "F1", None)]
    assert r.facility_stock[0]["seller_id"] == "S1"
    assert r.inventory_status["I1"]["custodian_id"] == "S2"
    assert len(r.sales) == 1


def test_r9_sharing_path_is_not_custody():
    w = world()
    w.link("D1", "S1", T0)
    w.item("I1", custodian="D1")
    _stocking(w, seller="S1", when=at(3))
    assert "SO_NOT_IN_CUSTODY" in w.run().codes()


def test_inactive_item_never_becomes_facility_stock():
    w = world()
    w.item("I1")
    w.event("E1", date=at(2))
    w.line("E1", 1, "I1")
    _stocking(w, when=at(3))
    r = w.run()
    assert r.facility_stock == []
    assert not r.inventory_status["I1"]["is_facility_stock"]
    assert keys(r, "INACTIVE_ITEM_USED") == [("SO1", 1, "I1", "S1", None, "F1", None)]
    assert r.line("SO1", 1)["usage_class"] == "SALE"
    assert keys(r, "SOLD_TWICE") == [("SO1", 1, "I1", "S1", None, "F1", None)]


def test_item_sold_on_two_stocking_orders_keeps_the_latest():
    w = world()
    w.item("I1")
    _stocking(w, eid="SO1", fac="F1", when=at(3))
    _stocking(w, eid="SO2", fac="F2", when=at(4), price="120.00")
    r = w.run()
    assert [
        (f["stocking_order_id"], f["facility_id"], f["unit_price"]) for f in r.facility_stock
    ] == [("SO2", "F2", D("120.00"))]
    assert keys(r, "SOLD_TWICE") == [("SO2", 1, "I1", "S1", None, "F2", None)]


def test_stocking_and_case_at_one_instant_follow_event_id_order():
    w = world()
    w.item("I1")
    w.item("I2")
    w.event("A-SO", etype="STOCKING_ORDER", date=at(5), submitted=at(5))
    w.line("A-SO", 1, "I1")
    w.event("B-CASE", date=at(5))
    w.line("B-CASE", 1, "I1", billed=0)
    w.event("Z-SO", etype="STOCKING_ORDER", date=at(5), submitted=at(5))
    w.line("Z-SO", 1, "I2")
    w.line("B-CASE", 2, "I2")
    r = w.run()
    assert r.line("B-CASE", 1)["usage_class"] == "NON_SALE_FACILITY_STOCK"
    assert r.line("B-CASE", 2)["usage_class"] == "SALE"
    assert "MIXED_CASE" in r.codes()


# --------------------------------------------------------------------------- R-10..R-13


def _fs_world(seller="S1", custodian=None, fac="F1", qty=1, cat="P1", price="100.00"):
    w = world()
    w.item("I1", cat=cat, custodian=custodian or seller, qty=qty)
    _stocking(w, seller=seller, fac=fac, when=at(3), qty=qty, price=price)
    return w


def test_r10_r11_facility_stock_used_by_seller_is_non_sale():
    w = _fs_world()
    w.event("C1", rep="S1", fac="F1", date=at(6))
    w.line("C1", 1, "I1", billed=0)
    r = w.run()
    line = r.line("C1", 1)
    assert line["usage_class"] == "NON_SALE_FACILITY_STOCK"
    assert line["expected_amount"] == 0 and line["access_path"] == "OWN"
    assert [s["event_id"] for s in r.sales] == ["SO1"]  # counted once
    fs = r.facility_stock[0]
    assert (fs["quantity_used"], fs["quantity_on_hand"], fs["status"]) == (1, 0, "CONSUMED")
    assert not r.inventory_status["I1"]["is_active"]
    assert r.facility_stock_access == []
    only_codes(r)


def test_r10_wrong_facility():
    w = _fs_world(fac="F1")
    w.event("C1", rep="S1", fac="F2", date=at(6))
    w.line("C1", 1, "I1", billed=0)
    r = w.run()
    assert keys(r, "FS_WRONG_FACILITY") == [("C1", 1, "I1", "S1", None, "F2", None)]
    only_codes(r, "FS_WRONG_FACILITY")


def test_r10_ineligible_rep():
    w = _fs_world(seller="S1")
    w.event("C1", rep="S2", fac="F1", date=at(6))
    w.line("C1", 1, "I1", billed=0)
    r = w.run()
    assert r.line("C1", 1)["access_path"] is None
    assert keys(r, "FS_INELIGIBLE_REP") == [("C1", 1, "I1", "S2", None, "F1", None)]
    only_codes(r, "FS_INELIGIBLE_REP")


def test_r10_distributor_sold_stock_shared_with_linked_rep():
    w = _fs_world(seller="D1")
    w.link("D1", "S2", T0)
    w.event("C1", rep="S2", fac="F1", date=at(6))
    w.line("C1", 1, "I1", billed=0)
    r = w.run()
    assert r.line("C1", 1)["access_path"] == "DISTRIBUTOR_SHARE"
    only_codes(r)


def test_r10_distributor_sold_stock_sharing_off_is_ineligible():
    w = _fs_world(seller="D1")
    w.link("D1", "S2", T0)
    w.sharing("D1", False, at(5))
    w.event("C1", rep="S2", fac="F1", date=at(6))
    w.line("C1", 1, "I1", billed=0)
    assert "FS_INELIGIBLE_REP" in w.run().codes()


def test_r10_full_vs_custodian_only_distributor_on_rep_sold_stock():
    for dist, ok in (("D1", True), ("DC", False)):
        w = _fs_world(seller="S1")
        w.link(dist, "S1", T0)
        w.event("C1", rep=dist, fac="F1", date=at(6))
        w.line("C1", 1, "I1", billed=0)
        r = w.run()
        assert (r.line("C1", 1)["access_path"] == "DISTRIBUTOR_OVER_REP") is ok
        assert ("FS_INELIGIBLE_REP" in r.codes()) is (not ok)


def test_r11_double_billed():
    w = _fs_world()
    w.event("C1", rep="S1", fac="F1", date=at(6))
    w.line("C1", 1, "I1", billed="100.00")
    r = w.run()
    assert keys(r, "DOUBLE_BILLED") == [("C1", 1, "I1", "S1", None, "F1", None)]
    assert r.figures["double_billed_amount"] == D("100.00")
    assert r.figures["sales_ledger_total"] == D("100.00")
    only_codes(r, "DOUBLE_BILLED")


def test_r11_partial_use_of_a_lot():
    w = _fs_world(cat="PL", qty=10, price="10.00")
    w.event("C1", rep="S1", fac="F1", date=at(6))
    w.line("C1", 1, "I1", qty=3, price="10.00", billed=0)
    w.event("C2", rep="S1", fac="F1", date=at(7))
    w.line("C2", 1, "I1", qty=2, price="10.00", billed=0)
    r = w.run(as_of=at(8))
    fs = r.facility_stock[0]
    assert (fs["quantity_sold"], fs["quantity_used"], fs["quantity_on_hand"]) == (10, 5, 5)
    assert fs["value_on_hand"] == D("50.00") and fs["status"] == "ON_HAND"
    st = r.inventory_status["I1"]
    assert st["is_active"] and st["quantity_remaining"] == 5
    w.event("C3", rep="S1", fac="F1", date=at(9))
    w.line("C3", 1, "I1", qty=5, price="10.00", billed=0)
    r = w.run()
    assert r.inventory_status["I1"]["is_active"] is False
    assert r.inventory_status["I1"]["deactivated_at"] == at(9)
    assert r.facility_stock[0]["quantity_on_hand"] == 0
    only_codes(r)


def test_r11_reusable_facility_stock_is_consumed_too():
    w = _fs_world(cat="PR", price="500.00")
    w.event("C1", rep="S1", fac="F1", date=at(6))
    w.line("C1", 1, "I1", billed=0, price="500.00")
    assert not w.run().inventory_status["I1"]["is_active"]


def test_r12_return_of_facility_stock():
    w = _fs_world()
    w.event("R1", etype="RETURN", rep="S1", fac="F2", date=at(6))
    w.line("R1", 1, "I1", billed=0)
    r = w.run()
    assert keys(r, "FS_RETURNED") == [("R1", 1, "I1", "S1", None, "F1", None)]
    fs = r.facility_stock[0]
    assert (fs["quantity_returned"], fs["quantity_on_hand"], fs["status"]) == (1, 0, "RETURNED")
    assert r.line("R1", 1)["usage_class"] == "NON_SALE_EVENT"
    assert r.inventory_status["I1"]["deactivation_reason"] == "RETURNED"
    assert [s["event_id"] for s in r.sales] == ["SO1"]
    only_codes(r, "FS_RETURNED")


def test_r12_stock_adjustment_writes_off_facility_stock():
    w = _fs_world()
    w.event("A1", etype="STOCK_ADJUSTMENT", rep="S1", fac="F1", date=at(6))
    w.line("A1", 1, "I1", billed=0)
    r = w.run()
    fs = r.facility_stock[0]
    assert (fs["quantity_adjusted"], fs["quantity_on_hand"], fs["status"]) == (1, 0, "WRITTEN_OFF")
    only_codes(r)


def test_r13_transfer_of_facility_stock_keeps_facility_and_seller():
    w = _fs_world(seller="S1")
    w.transfer("T1", "I1", "S1", "S2", at(4))
    w.event("C1", rep="S2", fac="F1", date=at(6))
    w.line("C1", 1, "I1", billed=0)
    r = w.run()
    assert keys(r, "FS_TRANSFERRED") == [(None, None, "I1", None, None, "F1", "T1")]
    row = r.line("C1", 1)
    assert row["custodian_at_use"] == "S2"
    assert row["access_path"] is None  # judged against the seller S1
    assert "FS_INELIGIBLE_REP" in r.codes()
    assert r.facility_stock[0]["seller_id"] == "S1"


def test_r13_access_mart_judged_against_seller():
    w = _fs_world(seller="D1")
    w.link("D1", "S1", T0)
    w.link("D1", "S2", T0, unlinked=at(4))
    w.link("D1", "S3", T0)
    w.transfer("T1", "I1", "D1", "S3", at(5))
    r = w.run(as_of=at(9))
    assert sorted((a["user_id"], a["access_path"]) for a in r.facility_stock_access) == [
        ("D1", "OWN"),
        ("S1", "DISTRIBUTOR_SHARE"),
        ("S3", "DISTRIBUTOR_SHARE"),
    ]


def test_access_mart_rep_seller_and_distributors():
    w = _fs_world(seller="S1")
    w.link("D1", "S1", T0)
    w.link("DC", "S1", T0)
    w.user("ADMIN_SELLER", "ADMIN")
    r = w.run(as_of=at(9))
    assert sorted(
        (a["user_id"], a["access_path"], a["facility_id"]) for a in r.facility_stock_access
    ) == [("D1", "DISTRIBUTOR_OVER_REP", "F1"), ("S1", "OWN", "F1")]


def test_access_mart_sharing_off_and_admin_seller_left_out():
    w = _fs_world(seller="D1")
    w.link("D1", "S1", T0)
    w.sharing("D1", False, at(8))
    w.item("I2", custodian="ADM")
    w.event("SO2", etype="STOCKING_ORDER", rep="ADM", fac="F1", date=at(3))
    w.line("SO2", 1, "I2")
    r = w.run(as_of=at(9))
    assert [(a["item_id"], a["user_id"]) for a in r.facility_stock_access] == [("I1", "D1")]


def test_access_mart_leaves_out_custodian_only_users():
    # I-19: DC (custodian-only) sold I1 and would be OWN; SC (custodian-only SALES) is linked
    # to DC and would be DISTRIBUTOR_SHARE. Neither acts, so only S1 may use the stock.
    w = _fs_world(seller="DC")
    w.user("SC", "SALES", custodian_only=True)
    w.link("DC", "S1", T0)
    w.link("DC", "SC", T0)
    r = w.run(as_of=at(9))
    assert [(a["user_id"], a["access_path"]) for a in r.facility_stock_access] == [
        ("S1", "DISTRIBUTOR_SHARE")
    ]
    # event lines stay R-5 literal: DC acting on its own custody is OWN (and flagged)
    w.event("C1", rep="DC", fac="F1", date=at(6))
    w.line("C1", 1, "I1", billed=0)
    r = w.run()
    assert r.line("C1", 1)["access_path"] == "OWN"
    only_codes(r, "CUSTODIAN_ONLY_REP")


# --------------------------------------------------------------------------- R-14 sales


def test_r14_sale_line_amounts_and_no_charge():
    w = world()
    w.item("I1")
    w.item("I2")
    w.event("C1", rep="S1", date=at(5))
    w.line("C1", 1, "I1", qty=1, price="250.00")
    w.line("C1", 2, "I2", no_charge=True, price="80.00")
    r = w.run()
    assert r.line("C1", 1)["usage_class"] == "SALE"
    assert r.line("C1", 1)["expected_amount"] == D("250.00")
    assert r.line("C1", 2)["usage_class"] == "NO_CHARGE"
    assert r.line("C1", 2)["expected_amount"] == 0
    assert [(s["line_no"], s["amount"]) for s in r.sales] == [(1, D("250.00"))]
    only_codes(r)


def test_r14_outside_custody_applies_to_no_charge_lines():
    w = world()
    w.item("I1", custodian="S2")
    w.event("C1", rep="S1", date=at(5))
    w.line("C1", 1, "I1", no_charge=True)
    r = w.run()
    assert keys(r, "OUTSIDE_CUSTODY") == [("C1", 1, "I1", "S1", None, "F1", None)]


def test_r14_unbilled_sale_and_mismatch():
    w = world()
    for n in (1, 2, 3, 4):
        w.item(f"I{n}")
    w.event("C1", rep="S1", date=at(5))
    w.line("C1", 1, "I1", billed=0)
    w.line("C1", 2, "I2", billed="90.00")
    w.line("C1", 3, "I3", no_charge=True, billed=0)
    w.line("C1", 4, "I4", no_charge=True, billed="5.00")
    r = w.run()
    assert keys(r, "UNBILLED_SALE") == [("C1", 1, "I1", "S1", None, "F1", None)]
    assert keys(r, "BILLED_AMOUNT_MISMATCH") == [
        ("C1", 2, "I2", "S1", None, "F1", None),
        ("C1", 4, "I4", "S1", None, "F1", None),
    ]
    only_codes(r, "UNBILLED_SALE", "BILLED_AMOUNT_MISMATCH")


def test_r14_stocking_order_lines_not_billing_checked():
    w = world()
    w.item("I1")
    _stocking(w, when=at(3), billed=0)
    only_codes(w.run())


# --------------------------------------------------------------------------- R-15 consumption


def test_r15_single_use_deactivates_reusable_stays():
    w = world()
    w.item("I1", cat="P1")
    w.item("I2", cat="PR")
    w.item("I3", cat="P1")
    w.event("C1", rep="S1", date=at(5))
    w.line("C1", 1, "I1")
    w.line("C1", 2, "I2", price="500.00")
    w.line("C1", 3, "I3", usage="UNUSED")
    r = w.run()
    s = r.inventory_status
    assert (s["I1"]["is_active"], s["I2"]["is_active"], s["I3"]["is_active"]) == (False, True, True)
    assert s["I1"]["deactivation_reason"] == "CONSUMED"
    assert r.line("C1", 3)["usage_class"] == "NOT_CONSUMED"
    assert [x["line_no"] for x in r.sales] == [1, 2]
    only_codes(r)


def test_r15_consuming_statuses():
    w = world()
    for n, usage in enumerate(("USED", "IMPLANTED", "IN_OUT", "DAMAGED_WASTE"), start=1):
        w.item(f"I{n}")
        w.event(f"C{n}", rep="S1", date=at(5))
        w.line(f"C{n}", 1, f"I{n}", usage=usage)
    r = w.run()
    assert not any(r.inventory_status[f"I{n}"]["is_active"] for n in range(1, 5))


def test_r15_lot_consumed_partially_then_fully():
    w = world()
    w.item("L1", cat="PL", qty=5)
    w.event("C1", rep="S1", date=at(5))
    w.line("C1", 1, "L1", qty=2, price="10.00")
    w.event("C2", rep="S1", date=at(6))
    w.line("C2", 1, "L1", qty=3, price="10.00")
    r = w.run(as_of=at(5, 12))
    assert r.inventory_status["L1"]["quantity_remaining"] == 3
    assert r.inventory_status["L1"]["is_active"]
    r = w.run()
    assert r.inventory_status["L1"]["quantity_remaining"] == 0
    assert not r.inventory_status["L1"]["is_active"]
    assert sum(s["amount"] for s in r.sales) == D("50.00")
    only_codes(r)


def test_non_sale_event_types():
    w = world()
    for n, etype in enumerate(("DAMAGE", "LOAN", "SAMPLE", "TRIAL", "OTHER"), start=1):
        w.item(f"I{n}")
        w.event(f"X{n}", etype=etype, rep="S1", date=at(5))
        w.line(f"X{n}", 1, f"I{n}", billed=0)
    w.item("I9", cat="PR")
    w.event("X9", etype="LOAN", rep="S1", date=at(5))
    w.line("X9", 1, "I9", billed=0)
    r = w.run()
    assert {x["usage_class"] for x in r.event_lines} == {"NON_SALE_EVENT"}
    assert r.sales == []
    assert [i for i, s in r.inventory_status.items() if s["is_active"]] == ["I9"]
    only_codes(r)


def test_return_of_consigned_item_deactivates_without_fs_returned():
    w = world()
    w.item("I1", cat="PR")
    w.event("R1", etype="RETURN", rep="S1", date=at(5))
    w.line("R1", 1, "I1", billed=0)
    r = w.run()
    assert r.inventory_status["I1"]["deactivation_reason"] == "RETURNED"
    only_codes(r)


# --------------------------------------------------------------------------- R-16 ledger


def test_r16_ledger_holds_each_unit_once():
    w = _fs_world()
    w.item("I2")
    w.event("C1", rep="S1", fac="F1", date=at(6))
    w.line("C1", 1, "I1", billed=0)
    w.event("C2", rep="S1", fac="F1", date=at(6))
    w.line("C2", 1, "I2")
    r = w.run()
    assert [(s["event_id"], s["event_type"]) for s in r.sales] == [
        ("C2", "CASE"),
        ("SO1", "STOCKING_ORDER"),
    ]
    assert r.figures["sales_ledger_total"] == D("200.00")


def test_r16_sold_twice_serial_used_in_two_cases():
    w = world()
    w.item("I1")
    w.event("C1", rep="S1", date=at(5))
    w.line("C1", 1, "I1")
    w.event("C2", rep="S1", date=at(6))
    w.line("C2", 1, "I1")
    r = w.run()
    assert keys(r, "SOLD_TWICE") == [("C2", 1, "I1", "S1", None, "F1", None)]
    assert keys(r, "INACTIVE_ITEM_USED") == [("C2", 1, "I1", "S1", None, "F1", None)]
    only_codes(r, "SOLD_TWICE", "INACTIVE_ITEM_USED")


def test_r16_sold_twice_lot_beyond_quantity_and_reusable_never():
    w = world()
    w.item("L1", cat="PL", qty=5)
    w.item("R1", cat="PR")
    for n, q in ((1, 3), (2, 2), (3, 1)):
        w.event(f"C{n}", rep="S1", date=at(4 + n))
        w.line(f"C{n}", 1, "L1", qty=q, price="10.00")
        w.line(f"C{n}", 2, "R1", price="500.00")
    r = w.run()
    assert keys(r, "SOLD_TWICE") == [("C3", 1, "L1", "S1", None, "F1", None)]


# ---------------------------------------------------------------------------


def test_r17_mixed_case():
    w = _fs_world()
    w.item("I2")
    w.event("C1", rep="S1", fac="F1", date=at(6))
    w.line("C1", 1, "I1", billed=0)
    w.line("C1", 2, "I2")
    r = w.run()
    assert keys(r, "MIXED_CASE") == [("C1", None, None, "S1", None, "F1", None)]
    only_codes(r, "MIXED_CASE")


def test_r17_unused_fs_line_does_not_make_a_mixed_case():
    w = _fs_world()
    w.item("I2")
    w.event("C1", rep="S1", fac="F1", date=at(6))
    w.line("C1", 1, "I1", billed=0, usage="UNUSED")
    w.line("C1", 2, "I2")
    only_codes(w.run())


def test_r18_transfer_of_inactive_item_is_flagged_and_moves_nothing():
    w = world()
    w.item("I1")
    w.event("C1", rep="S1", date=at(5))
    w.line("C1", 1, "I1")
    w.transfer("T1", "I1", "S1", "S2", at(6))
    r = w.run()
    assert keys(r, "INACTIVE_ITEM_USED") == [(None, None, "I1", None, None, None, "T1")]
    assert r.custodian_at("I1", at(7)) == "S1"
    only_codes(r, "INACTIVE_ITEM_USED")


def test_r18_transfer_before_item_exists():
    w = world()
    w.item("I1", created=at(5))
    w.transfer("T1", "I1", "S1", "S2", at(4))
    r = w.run()
    assert r.codes() == {"INACTIVE_ITEM_USED": 1, "TRANSFER_NOT_FROM_CUSTODIAN": 1}
    assert r.custodian_at("I1", at(6)) == "S1"


# --------------------------------------------------------------------------- R-19 commission


def test_r19_commission_on_ledger_lines_only():
    w = world()
    w.user("S9", "SALES", rate="0.0750")
    w.user("S8", "SALES", rate=None)
    w.item("I1", custodian="S9")
    w.item("I2", custodian="S9", cat="PL", qty=4)
    w.item("I3", custodian="S8")
    w.event("C1", rep="S9", date=at(5))
    w.line("C1", 1, "I1", price="200.00")
    w.line("C1", 2, "I2", qty=3, price="10.00")
    w.event("C2", rep="S8", date=at(5))
    w.line("C2", 1, "I3", price="100.00")
    r = w.run()
    got = {(s["event_id"], s["line_no"]): (s["amount"], s["commission_amount"]) for s in r.sales}
    assert got == {
        ("C1", 1): (D("200.00"), D("15.000000")),
        ("C1", 2): (D("30.00"), D("2.250000")),
        ("C2", 1): (D("100.00"), D("0")),
    }


def test_r19_no_commission_on_non_sale_usage():
    w = _fs_world()
    w.event("C1", rep="S1", fac="F1", date=at(6))
    w.line("C1", 1, "I1", billed=0)
    r = w.run()
    assert [(s["event_id"], s["commission_amount"]) for s in r.sales] == [("SO1", D("10.000000"))]


# --------------------------------------------------------------------------- other anomalies


def test_custodian_only_rep_whatever_the_status():
    w = world()
    w.item("I1", custodian="DC")
    w.event("C1", rep="DC", date=at(5), status="OPEN")
    w.line("C1", 1, "I1")
    w.event("C2", rep="DC", date=at(5), status="CANCELLED")
    w.event("SO1", etype="STOCKING_ORDER", rep="DC", date=at(5))
    r = w.run()
    assert keys(r, "CUSTODIAN_ONLY_REP") == [
        ("C1", None, None, "DC", None, "F1", None),
        ("C2", None, None, "DC", None, "F1", None),
    ]
    only_codes(r, "CUSTODIAN_ONLY_REP")


def test_expired_item_used():
    w = world()
    w.item("I1", exp=date(2025, 1, 4))
    w.item("I2", exp=date(2025, 1, 5))
    w.event("C1", rep="S1", date=at(5, 23))
    w.line("C1", 1, "I1")
    w.line("C1", 2, "I2")  # used on its expiry day: fine
    r = w.run()
    assert keys(r, "EXPIRED_ITEM_USED") == [("C1", 1, "I1", "S1", None, "F1", None)]
    only_codes(r, "EXPIRED_ITEM_USED")


def test_expired_item_unused_line_not_flagged():
    w = world()
    w.item("I1", exp=date(2025, 1, 2))
    w.event("C1", rep="S1", date=at(5))
    w.line("C1", 1, "I1", usage="UNUSED")
    only_codes(w.run())


def test_link_overlap_flags_the_later_link():
    w = world()
    w.user("D2", "DISTRIBUTOR")
    w.user("D3", "DISTRIBUTOR")
    w.link("D1", "S1", at(1), unlinked=at(5))
    w.link("D2", "S1", at(4))
    w.link("D3", "S1", at(5))  # overlaps D2 only
    w.link("D1", "S2", at(1), unlinked=at(3))
    w.link("D2", "S2", at(3))  # touching, not overlapping
    w.link("D1", "S3", at(1))
    w.link("D1", "S3", at(2))  # same distributor twice: not two distributors
    w.link("S2", "S3", at(1))  # invalid roles: not judged for overlap
    r = w.run()
    assert keys(r, "LINK_OVERLAP") == [
        (None, None, None, "S1", "D2", None, None),
        (None, None, None, "S1", "D3", None, None),
    ]
    only_codes(r, "LINK_OVERLAP", "LINK_INVALID_ROLES")


def test_unknown_references():
    w = world()
    w.item("I1", cat="NOPE")
    w.event("E1", rep="GHOST", fac="FX", date=at(5), status="OPEN")
    w.line("E1", 1, "MISSING")
    w.line("E404", 1, "I1")
    w.transfer("T1", "MISSING", "S1", "S2", at(3), status="DECLINED")
    w.sharing("GHOSTD", False, at(2))
    r = w.run()
    got = keys(r, "UNKNOWN_REFERENCE")
    assert len(got) == 7
    assert set(got) == {
        ("E1", None, None, None, None, "FX", None),
        ("E1", None, None, "GHOST", None, None, None),
        ("E1", 1, "MISSING", None, None, None, None),
        ("E404", 1, None, None, None, None, None),
        (None, None, "I1", None, None, None, None),
        (None, None, "MISSING", None, None, None, "T1"),
        (None, None, None, "GHOSTD", None, None, None),
    }
    assert [(x["event_id"], x["line_no"]) for x in r.event_lines] == []


def test_line_on_unknown_item_is_not_an_event_line():
    w = world()
    w.item("I1")
    w.event("C1", rep="S1", date=at(5))
    w.line("C1", 1, "I1")
    w.line("C1", 2, "NOPE")
    r = w.run()
    assert [x["line_no"] for x in r.event_lines] == [1]
    assert keys(r, "UNKNOWN_REFERENCE") == [("C1", 2, "NOPE", None, None, None, None)]


def test_every_code_has_a_severity_and_rows_have_the_key_columns():
    assert set(oracle.CODES) == set(oracle.SEVERITY)
    assert len(oracle.CODES) == 19
    w = _fs_world()
    w.event("C1", rep="S1", fac="F2", date=at(6))
    w.line("C1", 1, "I1", billed="1.00")
    r = w.run()
    for row in r.exceptions:
        assert set(oracle.KEY_COLUMNS) | {"severity", "occurred_at", "detail"} == set(row)
        assert row["severity"] == oracle.SEVERITY[row["code"]]
        assert row["occurred_at"] == at(6)


# --------------------------------------------------------------------------- as_of, loader, speed


def test_as_of_defaults_to_latest_timestamp_and_fixes_the_snapshot():
    w = _fs_world()
    w.event("C1", rep="S1", fac="F1", date=at(6))
    w.line("C1", 1, "I1", billed=0)
    assert w.run().as_of == at(6)
    before = w.run(as_of=at(5))
    assert before.facility_stock[0]["status"] == "ON_HAND"
    assert before.inventory_status["I1"]["is_active"]
    assert [a["user_id"] for a in before.facility_stock_access] == ["S1"]
    assert w.run(as_of="2025-01-06T00:00:00").facility_stock[0]["status"] == "CONSUMED"


def test_load_from_duckdb(tmp_path):
    import duckdb

    from orchestration.contract import ENTITIES

    w = _fs_world()
    w.event("C1", rep="S1", fac="F1", date=at(6))
    w.line("C1", 1, "I1", billed="100.00")
    expected = w.run()
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema raw")
    for name, spec in ENTITIES.items():
        con.execute(spec.raw_ddl())
        cols = list(spec.column_names)
        for n, row in enumerate(w.rows.get(name, []), start=1):
            values = [row.get(c) for c in cols] + [row.get("_file_id", 1), f"{name}/x.csv", n, T0]
            con.execute(f"insert into raw.{name} values ({', '.join('?' * len(values))})", values)
    con.close()
    data = oracle.load_from_duckdb(path)
    assert set(data) == set(ENTITIES)
    assert isinstance(data["event_lines"][0]["billed_amount"], Decimal)
    assert isinstance(data["events"][0]["event_date"], datetime)
    got = oracle.run(data)
    assert got.exception_keys() == expected.exception_keys()
    assert got.facility_stock == expected.facility_stock
    assert got.figures == expected.figures


def test_scale_thousands_of_items_tens_of_thousands_of_transfers():
    w = world()
    holders = ["S1", "S2", "S3", "D1"]
    n_items, per_item = 3000, 10
    for i in range(n_items):
        w.item(f"I{i:05d}", custodian="S1", created=T0)
    t = 0
    for i in range(n_items):
        for k in range(per_item):
            t += 1
            w.transfer(
                f"T{t:07d}",
                f"I{i:05d}",
                holders[k % 4],
                holders[(k + 1) % 4],
                T0 + timedelta(minutes=k + 1),
            )
    for i in range(0, n_items, 3):
        w.event(f"C{i:05d}", rep="S3", date=at(20))
        w.line(f"C{i:05d}", 1, f"I{i:05d}")
    start = time.perf_counter()
    r = w.run()
    elapsed = time.perf_counter() - start
    assert elapsed < 10, elapsed
    assert len(r.custody_intervals) == n_items * (per_item + 1)
    assert r.custodian_at("I00000", at(15)) == "S3"
    assert len(r.sales) == n_items // 3
    only_codes(r)


# --------------------------------------------------------------------------- more edges


def test_sharing_row_applies_from_its_effective_instant():
    w = _case_on("D1", "S1", when=at(5))
    w.link("D1", "S1", T0)
    w.sharing("D1", False, at(5))
    assert w.run().line("E1", 1)["access_path"] is None


def test_sharing_row_a_second_after_the_case_does_not_apply():
    w = _case_on("D1", "S1", when=at(5))
    w.link("D1", "S1", T0)
    w.sharing("D1", False, at(5) + SECOND)
    assert w.run().line("E1", 1)["access_path"] == "DISTRIBUTOR_SHARE"


def test_deactivate_on_submit_ignored_outside_stocking_orders():
    w = world()
    w.item("I1", cat="PR")
    w.event("C1", rep="S1", date=at(5), direct=True)
    w.line("C1", 1, "I1", price="500.00")
    assert w.run().inventory_status["I1"]["is_active"]


def test_direct_sale_of_part_of_a_lot_deactivates_the_lot():
    w = world()
    w.item("L1", cat="PL", qty=5)
    _stocking(w, item="L1", when=at(3), qty=2, price="10.00", direct=True)
    st = w.run().inventory_status["L1"]
    assert (st["is_active"], st["quantity_remaining"], st["deactivation_reason"]) == (
        False,
        3,
        "DIRECT_SALE",
    )


def test_transfer_of_used_up_facility_stock_is_inactive_not_fs_transferred():
    w = _fs_world()
    w.event("C1", rep="S1", fac="F1", date=at(6))
    w.line("C1", 1, "I1", billed=0)
    w.transfer("T1", "I1", "S1", "S2", at(7))
    r = w.run()
    only_codes(r, "INACTIVE_ITEM_USED")
    assert keys(r, "INACTIVE_ITEM_USED") == [(None, None, "I1", None, None, None, "T1")]


def test_used_up_facility_stock_used_again_stays_non_sale():
    w = _fs_world()
    for n, day in ((1, 6), (2, 7)):
        w.event(f"C{n}", rep="S1", fac="F1", date=at(day))
        w.line(f"C{n}", 1, "I1", billed=0)
    r = w.run()
    assert r.line("C2", 1)["usage_class"] == "NON_SALE_FACILITY_STOCK"
    assert keys(r, "INACTIVE_ITEM_USED") == [("C2", 1, "I1", "S1", None, "F1", None)]
    assert len(r.sales) == 1


def test_zero_length_custody_interval_is_kept_and_judged():
    w = world()
    w.item("I1", custodian="S1")
    w.transfer("T1", "I1", "S1", "RM", at(3))
    w.transfer("T2", "I1", "RM", "S2", at(3))
    r = w.run()
    assert [(i["custodian_id"], i["valid_from"], i["valid_to"]) for i in r.custody_intervals] == [
        ("S1", T0, at(3)),
        ("RM", at(3), at(3)),
        ("S2", at(3), None),
    ]
    assert r.custodian_at("I1", at(3)) == "S2"
    assert keys(r, "NON_CUSTODIAL_HOLDER") == [(None, None, "I1", "RM", None, None, "T1")]


def test_item_created_after_as_of():
    w = world()
    w.item("I1", created=at(5))
    st = w.run(as_of=at(4)).inventory_status["I1"]
    assert (st["custodian_id"], st["is_active"], st["quantity_remaining"]) == (None, False, 0)


def test_stocking_order_billing_switch(monkeypatch):
    w = world()
    w.item("I1")
    _stocking(w, when=at(3), billed=0)
    monkeypatch.setattr(oracle.rules, "CHECK_STOCKING_ORDER_BILLING", True)
    assert keys(w.run(), "UNBILLED_SALE") == [("SO1", 1, "I1", "S1", None, "F1", None)]


def test_key_convention_checker_flags_bad_rows():
    good = {c: None for c in oracle.KEY_COLUMNS}
    row = dict(good, code="MIXED_CASE", event_id="E1", user_id="S1", facility_id="F1")
    assert oracle.key_convention_violations([row]) == []
    assert oracle.key_convention_violations([dict(row, line_no=1)])
    line = dict(good, code="OUTSIDE_CUSTODY", event_id="E1", line_no=1, user_id="S1")
    assert oracle.key_convention_violations([line])  # no item
    tr = dict(good, code="INACTIVE_ITEM_USED", item_id="I1", transfer_id="T1")
    assert oracle.key_convention_violations([tr]) == []
    assert oracle.key_convention_violations([dict(tr, facility_id="F1")])
    assert oracle.key_convention_violations([dict(good, code="NOPE")])


# The warehouse's codes, severities and key columns live in this seed; the oracle keeps its own
# SEVERITY and KEY_CONVENTION (it never reads the seed: independence), and these tests pin the
# two together.
EXCEPTION_CODES_SEED = project_settings.DBT_PROJECT_DIR / "seeds" / "exception_codes.csv"


def _seed_rows() -> list[dict]:
    with EXCEPTION_CODES_SEED.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_oracle_codes_and_severities_match_the_seed():
    rows = _seed_rows()
    seed = {r["code"]: r["severity"] for r in rows}
    assert len(seed) == len(rows), "a code listed twice in the seed"
    assert seed == oracle.SEVERITY


def test_oracle_key_convention_matches_the_seed():
    """The seed lists each set of key columns a code's rows fill (' | ' between sets); the
    oracle, the columns they may fill: the union of those sets."""
    seed = {
        r["code"]: {c.strip() for s in r["key_columns"].split("|") for c in s.split(",")}
        for r in _seed_rows()
    }
    assert seed == {code: set(columns) for code, columns in oracle.KEY_CONVENTION.items()}


# --------------------------------------------------------------------------- invariants


@st.composite
def random_world(draw) -> World:
    """A random world of the shared generator (``oracle.builder.random_world``)."""
    return builder.random_world(World(), draw(st.randoms(use_true_random=False)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(w=random_world(), seed=st.randoms(use_true_random=False))
def test_invariants_on_random_worlds(w, seed):
    r = w.run()
    assert oracle.key_convention_violations(r.exceptions) == []
    lines = {(x["event_id"], x["line_no"]): x for x in r.event_lines}
    sale_lines = {k for k, x in lines.items() if x["usage_class"] == "SALE"}
    assert {(s["event_id"], s["line_no"]) for s in r.sales} == sale_lines
    assert r.figures["sales_ledger_total"] == sum(
        (lines[k]["expected_amount"] for k in sale_lines), D(0)
    )
    for x in r.event_lines:
        assert x["usage_class"] in oracle.USAGE_CLASSES
        if x["usage_class"] not in ("SALE",):
            assert x["expected_amount"] == 0
    double = [
        x
        for x in r.event_lines
        if x["usage_class"] == "NON_SALE_FACILITY_STOCK" and x["billed_amount"] > 0
    ]
    assert len(double) == r.codes().get("DOUBLE_BILLED", 0)
    for iid, ivs in r._intervals_by_item.items():
        for a, b in zip(ivs, ivs[1:], strict=False):
            assert a["valid_to"] == b["valid_from"]
        assert ivs[-1]["valid_to"] is None
        assert r.inventory_status[iid]["custodian_id"] == r.custodian_at(iid, r.as_of)
    for fs in r.facility_stock:
        status = r.inventory_status[fs["item_id"]]
        assert (fs["status"] == "ON_HAND") is status["is_active"]
        assert status["is_facility_stock"] and status["facility_id"] == fs["facility_id"]
        if status["is_active"]:
            assert fs["quantity_on_hand"] == status["quantity_remaining"]
            assert fs["quantity_on_hand"] == max(
                0,
                fs["quantity_sold"]
                - fs["quantity_used"]
                - fs["quantity_returned"]
                - fs["quantity_adjusted"],
            )
        else:
            assert fs["quantity_on_hand"] == 0
    on_hand = {f["item_id"] for f in r.facility_stock if f["quantity_on_hand"] > 0}
    for a in r.facility_stock_access:
        assert a["item_id"] in on_hand and a["user_id"] not in ("ADM", "OPS")
    # the answer does not depend on the order rows are listed in
    shuffled = {}
    for name, rows in w.rows.items():
        rows = [dict(row, _row_number=n) for n, row in enumerate(rows)]
        seed.shuffle(rows)
        shuffled[name] = rows
    again = oracle.run(shuffled)
    assert again.exception_keys() == r.exception_keys()
    assert again.event_lines == r.event_lines
    assert again.facility_stock == r.facility_stock


def test_diff_exceptions_normalises_csv_values(tmp_path):
    w = world()
    w.item("I1", custodian="S2")
    w.event("C1", rep="S1", date=at(5))
    w.line("C1", 1, "I1")
    r = w.run()
    path = tmp_path / "expected_exceptions.csv"
    cols = list(oracle.KEY_COLUMNS)
    path.write_text(
        ",".join(cols) + "\n" + "OUTSIDE_CUSTODY,C1,1,I1,S1,,F1,\n" + "MIXED_CASE,C9,,,S1,,F1,\n"
    )
    missing, extra = oracle.diff_exceptions(oracle.load_exceptions_csv(path), r.exceptions)
    assert missing == [("MIXED_CASE", "C9", None, None, "S1", None, "F1", None)]
    assert extra == []

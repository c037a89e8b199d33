"""A small hand-made warehouse shaped like the published marts.

The dashboard tests run against the real sample build (conftest.sample_warehouse). This fixture
serves the robustness tests, which damage their own copy on purpose (missing columns, empty
marts, a file replaced mid-query). Run it as a script to get a file to develop against:

    .venv/bin/python tests/dashboard_fixture.py /tmp/custodia_dev.duckdb
"""

from __future__ import annotations

import csv
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

T = "timestamp"
D = "date"
V = "varchar"
B = "bigint"
M = "decimal(18,2)"
BOOL = "boolean"

SCHEMA: dict[str, dict[str, str]] = {
    "marts.dim_users": {
        "user_id": V,
        "email": V,
        "full_name": V,
        "role": V,
        "is_custodian_only": BOOL,
        "is_active": BOOL,
        "commission_rate": "decimal(9,4)",
        "region": V,
    },
    "marts.dim_facilities": {
        "facility_id": V,
        "facility_name": V,
        "state": V,
        "contract_complete": BOOL,
    },
    "marts.dim_products": {
        "catalog_number": V,
        "product_description": V,
        "product_line": V,
        "tracking": V,
        "is_single_use": BOOL,
        "list_price": M,
        "unit_cost": M,
    },
    "marts.fct_custody_intervals": {
        "item_id": V,
        "custodian_id": V,
        "valid_from": T,
        "valid_to": T,
        "transfer_id": V,
    },
    "marts.fct_inventory_status": {
        "item_id": V,
        "catalog_number": V,
        "lot_number": V,
        "serial_number": V,
        "expiration_date": D,
        "custodian_id": V,
        "is_active": BOOL,
        "is_facility_stock": BOOL,
        "facility_id": V,
        "quantity_remaining": B,
        "deactivated_at": T,
        "deactivation_reason": V,
    },
    "marts.fct_facility_stock": {
        "item_id": V,
        "catalog_number": V,
        "lot_number": V,
        "serial_number": V,
        "expiration_date": D,
        "facility_id": V,
        "seller_id": V,
        "stocking_order_id": V,
        "sold_at": T,
        "quantity_sold": B,
        "quantity_used": B,
        "quantity_returned": B,
        "quantity_on_hand": B,
        "unit_price": M,
        "value_on_hand": M,
        "status": V,
    },
    "marts.fct_facility_stock_access": {
        "item_id": V,
        "facility_id": V,
        "user_id": V,
        "access_path": V,
    },
    "marts.fct_event_lines": {
        "event_id": V,
        "line_no": B,
        "event_type": V,
        "event_date": T,
        "facility_id": V,
        "representative_id": V,
        "item_id": V,
        "quantity": B,
        "usage_class": V,
        "access_path": V,
        "custodian_at_use": V,
        "expected_amount": M,
        "billed_amount": M,
    },
    "marts.fct_sales": {
        "event_id": V,
        "line_no": B,
        "item_id": V,
        "event_type": V,
        "facility_id": V,
        "representative_id": V,
        "sold_at": T,
        "catalog_number": V,
        "quantity": B,
        "amount": M,
        "commission_amount": M,
    },
    "marts.fct_non_sale_usage": {
        "event_line_id": V,
        "event_id": V,
        "line_no": B,
        "event_date": T,
        "facility_id": V,
        "representative_id": V,
        "item_id": V,
        "catalog_number": V,
        "lot_number": V,
        "serial_number": V,
        "stocking_order_id": V,
        "seller_id": V,
        "sold_at": T,
        "quantity": B,
        "unit_price": M,
        "access_path": V,
        "custodian_at_use": V,
        "billed_amount": M,
    },
    "marts.fct_exceptions": {
        "code": V,
        "severity": V,
        "event_id": V,
        "line_no": B,
        "item_id": V,
        "user_id": V,
        "related_user_id": V,
        "facility_id": V,
        "transfer_id": V,
        "occurred_at": T,
        "detail": V,
    },
    "marts.dim_exception_codes": {
        "code": V,
        "severity": V,
        "severity_rank": B,
        "rule": V,
        "description": V,
        "key_columns": V,
    },
    "marts.rpt_stock_levels": {
        "facility_id": V,
        "catalog_number": V,
        "quantity_on_hand": B,
        "value_on_hand": M,
        "items": B,
        "oldest_sold_at": T,
        "next_expiration": D,
        "quantity_expiring_90d": B,
        "eligible_users": B,
    },
    "marts.rpt_sales_monthly": {
        "month": D,
        "representative_id": V,
        "line_count": B,
        "units": B,
        "amount": M,
        "commission_amount": M,
    },
    "marts.rpt_non_sale_monthly": {
        "month": D,
        "facility_id": V,
        "representative_id": V,
        "units": B,
        "stock_value": M,
        "line_count": B,
    },
    "marts.rpt_reconciliation_monthly": {
        "month": D,
        "facility_id": V,
        "stocking_order_revenue": M,
        "case_sale_revenue": M,
        "expected_revenue": M,
        "billed_revenue": M,
        "double_billed_amount": M,
        "unbilled_amount": M,
        "non_sale_units": B,
        "non_sale_value": M,
        "returned_value": M,
    },
    "marts.rpt_restatements": {
        "month": D,
        "facility_id": V,
        "figure": V,
        "closed_value": M,
        "current_value": M,
        "difference": M,
        "closed_at": T,
        "closed_by": V,
        "delivery_watermark": B,
        "lines_moved": B,
        "moved_by_lines": V,
        "late_deliveries": V,
    },
    "audit.closed_months": {
        "month": D,
        "facility_id": V,
        "stocking_order_revenue": M,
        "case_sale_revenue": M,
        "expected_revenue": M,
        "billed_revenue": M,
        "double_billed_amount": M,
        "unbilled_amount": M,
        "non_sale_units": B,
        "non_sale_value": M,
        "returned_value": M,
        "closed_at": T,
        "closed_by": V,
        "delivery_watermark": B,
        "data_as_of": T,
    },
    "audit.ingested_files": {
        "file_id": B,
        "entity": V,
        "source_file": V,
        "sha256": V,
        "file_format": V,
        "status": V,
        "rows_read": B,
        "rows_loaded": B,
        "rows_rejected": B,
        "extra_columns": V,
        "error": V,
        "ingested_at": T,
    },
    "audit.rejected_rows": {
        "entity": V,
        "source_file": V,
        "row_number": B,
        "reason_codes": V,
        "reasons": V,
        "record": V,
        "_file_id": B,
        "rejected_at": T,
    },
}

COMMENTS = {
    "marts.fct_facility_stock": "Every item that ever became facility stock, on hand or not.",
    "marts.rpt_reconciliation_monthly": "Revenue reconciliation per month and facility.",
    "marts.fct_exceptions": "One row per anomaly, with its code and severity.",
}


def _ts(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour)


def _rows() -> dict[str, list[tuple]]:
    """Plausible, mutually consistent rows over the three months before today."""
    # fmt: off
    today = date.today()
    m0 = today.replace(day=1)  # this month
    m1 = (m0 - timedelta(days=1)).replace(day=1)
    m2 = (m1 - timedelta(days=1)).replace(day=1)

    users = [
        ("U-ADM", "admin@example.com", "Ada Admin", "ADMIN", False, True, 0, "WEST"),
        ("U-DST", "dist@example.com", "Dana Distributor", "DISTRIBUTOR", False, True, 0.05, "WEST"),
        ("U-DCO", "stockroom@example.com", "West Stockroom", "DISTRIBUTOR", True, True, 0, "WEST"),
        ("U-S1", "sam@example.com", "Sam Sales", "SALES", False, True, 0.10, "WEST"),
        ("U-S2", "sky@example.com", "Sky Sales", "SALES", False, True, 0.08, "WEST"),
        ("U-S3", "eve@example.com", "=cmd|' /C calc'!A0", "SALES", False, True, 0.10, "EAST"),
    ]
    facilities = [
        ("F-1", "St. Mary Hospital", "CA", True),
        ("F-2", "Bayview Surgical", "CA", True),
        ("F-3", "Eastside Clinic", "NY", False),
    ]
    products = [
        ("CAT-100", "Hip stem 12mm", "Hips", "SERIAL", True, 1200.00, 400.00),
        ("CAT-200", "Bone screw 4.5mm", "Trauma", "LOT", True, 85.00, 20.00),
        ("CAT-300", "Knee insert", "Knees", "SERIAL", True, 950.00, 300.00),
        ("CAT-400", "Drill guide", "Instruments", "SERIAL", False, 300.00, 90.00),
    ]
    exp_soon = today + timedelta(days=40)
    exp_late = today + timedelta(days=400)
    # item_id, catalog, lot, serial, expiry, custodian, active, is_fs, facility, qty, deact, reason
    inventory = [
        ("I-01", "CAT-100", None, "SN-1001", exp_late, "U-S1", True, True, "F-1", 1, None, None),
        ("I-02", "CAT-100", None, "SN-1002", exp_soon, "U-DCO", True, True, "F-1", 1, None, None),
        ("I-03", "CAT-200", "LOT-A", None, exp_soon, "U-DCO", True, True, "F-1", 7, None, None),
        ("I-04", "CAT-200", "LOT-B", None, exp_late, "U-S2", True, True, "F-2", 10, None, None),
        ("I-05", "CAT-300", None, "SN-3001", exp_late, "U-S1", False, True, "F-2", 0,
         _ts(m1 + timedelta(days=12)), "CONSUMED"),
        ("I-06", "CAT-300", None, "SN-3002", exp_late, "U-S3", True, True, "F-3", 1, None, None),
        ("I-07", "CAT-100", None, "SN-1003", exp_late, "U-S1", False, False, None, 0,
         _ts(m0 + timedelta(days=1)), "CONSUMED"),
        ("I-08", "CAT-200", "LOT-A", None, exp_soon, "U-S2", False, False, None, 0,
         _ts(m1 + timedelta(days=3)), "CONSUMED"),
        ("I-09", "CAT-400", None, "SN-4001", exp_late, "ORG", True, False, None, 1, None, None),
        ("I-10", "CAT-300", None, "SN-3003", exp_late, "U-DCO", False, True, "F-1", 0,
         _ts(m0 + timedelta(days=2)), "RETURNED"),
    ]
    custody = [
        ("I-01", "ORG", _ts(m2), _ts(m2 + timedelta(days=2)), None),
        ("I-01", "U-S1", _ts(m2 + timedelta(days=2)), None, "T-1"),
        ("I-02", "ORG", _ts(m2), _ts(m2 + timedelta(days=1)), None),
        ("I-02", "U-DCO", _ts(m2 + timedelta(days=1)), None, "T-2"),
        ("I-03", "U-DCO", _ts(m2), None, None),
        ("I-04", "U-S2", _ts(m2), None, None),
        ("I-05", "U-S1", _ts(m2), _ts(m1 + timedelta(days=12)), None),
        ("I-06", "U-S3", _ts(m2), None, None),
        ("I-07", "U-S1", _ts(m2), _ts(m0 + timedelta(days=1)), None),
        ("I-08", "U-S2", _ts(m2), _ts(m1 + timedelta(days=3)), None),
        ("I-09", "ORG", _ts(m2), None, None),
        ("I-10", "U-DCO", _ts(m2), _ts(m0 + timedelta(days=2)), None),
    ]
    so1, so2, so3 = _ts(m2 + timedelta(days=5)), _ts(m2 + timedelta(days=8)), _ts(m1 + timedelta(1))
    # item, facility, seller, so, sold_at, sold, used, returned, on_hand, price, value, status
    facility_stock = [
        ("I-01", "F-1", "U-S1", "SO-1", so1, 1, 0, 0, 1, 1150.00, 1150.00, "ON_HAND"),
        ("I-02", "F-1", "U-DCO", "SO-2", so2, 1, 0, 0, 1, 1100.00, 1100.00, "ON_HAND"),
        ("I-03", "F-1", "U-DCO", "SO-2", so2, 10, 3, 0, 7, 80.00, 560.00, "ON_HAND"),
        ("I-04", "F-2", "U-S2", "SO-3", so3, 12, 2, 0, 10, 85.00, 850.00, "ON_HAND"),
        ("I-05", "F-2", "U-S1", "SO-3", so3, 1, 1, 0, 0, 900.00, 0.00, "USED"),
        ("I-06", "F-3", "U-S3", "SO-4", so3, 1, 0, 0, 1, 950.00, 950.00, "ON_HAND"),
        ("I-10", "F-1", "U-DCO", "SO-2", so2, 1, 0, 1, 0, 940.00, 0.00, "RETURNED"),
    ]
    # each with its item's catalog, lot, serial and expiry, as the dbt model copies them
    attributes = {i[0]: i[1:5] for i in inventory}
    facility_stock = [(r[0], *attributes[r[0]], *r[1:]) for r in facility_stock]
    # U-DCO is custodian-only: it sold I-02 and I-03 but never acts, so it has no row
    access = [
        ("I-01", "F-1", "U-S1", "OWN"),
        ("I-01", "F-1", "U-DST", "DISTRIBUTOR_OVER_REP"),
        ("I-02", "F-1", "U-S1", "DISTRIBUTOR_SHARE"),
        ("I-02", "F-1", "U-S2", "DISTRIBUTOR_SHARE"),
        ("I-03", "F-1", "U-S1", "DISTRIBUTOR_SHARE"),
        ("I-03", "F-1", "U-S2", "DISTRIBUTOR_SHARE"),
        ("I-04", "F-2", "U-S2", "OWN"),
        ("I-04", "F-2", "U-DST", "DISTRIBUTOR_OVER_REP"),
        ("I-06", "F-3", "U-S3", "OWN"),
    ]
    c1, c2, c3, c4 = (
        _ts(m1 + timedelta(days=3)),
        _ts(m1 + timedelta(days=12)),
        _ts(m0 + timedelta(days=1)),
        _ts(m0 + timedelta(days=1), 14),
    )
    # event, line, type, date, facility, rep, item, qty, class, path, custodian, expected, billed
    event_lines = [
        ("SO-1", 1, "STOCKING_ORDER", so1, "F-1", "U-S1", "I-01", 1, "SALE", None, "U-S1",
         1150.00, 1150.00),
        ("SO-2", 1, "STOCKING_ORDER", so2, "F-1", "U-DCO", "I-02", 1, "SALE", None, "U-DCO",
         1100.00, 1100.00),
        ("SO-2", 2, "STOCKING_ORDER", so2, "F-1", "U-DCO", "I-03", 10, "SALE", None, "U-DCO",
         800.00, 800.00),
        ("SO-2", 3, "STOCKING_ORDER", so2, "F-1", "U-DCO", "I-10", 1, "SALE", None, "U-DCO",
         940.00, 940.00),
        ("SO-3", 1, "STOCKING_ORDER", so3, "F-2", "U-S2", "I-04", 12, "SALE", None, "U-S2",
         1020.00, 1020.00),
        ("SO-3", 2, "STOCKING_ORDER", so3, "F-2", "U-S1", "I-05", 1, "SALE", None, "U-S1",
         900.00, 900.00),
        ("SO-4", 1, "STOCKING_ORDER", so3, "F-3", "U-S3", "I-06", 1, "NO_CHARGE", None, "U-S3",
         0.00, 0.00),
        ("CASE-1", 1, "CASE", c1, "F-2", "U-S2", "I-08", 4, "SALE", "OWN", "U-S2", 340.00, 0.00),
        ("CASE-1", 2, "CASE", c1, "F-2", "U-S2", "I-04", 2, "NON_SALE_FACILITY_STOCK",
         "OWN", "U-S2", 0.00, 0.00),
        ("CASE-2", 1, "CASE", c2, "F-2", "U-S1", "I-05", 1, "NON_SALE_FACILITY_STOCK",
         "OWN", "U-S1", 0.00, 900.00),
        ("CASE-3", 1, "CASE", c3, "F-1", "U-S2", "I-03", 3, "NON_SALE_FACILITY_STOCK",
         "DISTRIBUTOR_SHARE", "U-DCO", 0.00, 0.00),
        ("CASE-4", 1, "CASE", c4, "F-1", "U-S1", "I-07", 1, "SALE", "OWN", "U-S1", 1200.00,
         1200.00),
        ("CASE-5", 1, "CASE", c4, "F-3", "U-S3", "I-09", 1, "NOT_SUBMITTED", None, "ORG",
         0.00, 0.00),
        ("RET-1", 1, "RETURN", _ts(m0 + timedelta(days=2)), "F-1", "U-DCO", "I-10", 1,
         "NON_SALE_EVENT", None, "U-DCO", 0.00, 0.00),
    ]
    commission = {u[0]: u[6] for u in users}
    sales = [
        (e, n, i, t, f, r, d, next(x[1] for x in inventory if x[0] == i), q, exp,
         round(exp * commission[r], 2))
        for (e, n, t, d, f, r, i, q, cls, _p, _c, exp, _b) in event_lines
        if cls == "SALE"
    ]
    exceptions = [
        ("UNBILLED_SALE", "high", "CASE-1", 1, "I-08", "U-S2", None, "F-2", None, c1,
         "Sale line CASE-1/1 was billed 0.00, expected 340.00."),
        ("DOUBLE_BILLED", "high", "CASE-2", 1, "I-05", "U-S1", None, "F-2", None, c2,
         "Facility stock I-05 sold on SO-3 was billed again: 900.00."),
        ("EXPIRED_ITEM_USED", "medium", "CASE-1", 1, "I-08", "U-S2", None, "F-2", None, c1,
         "I-08 used after its expiration date."),
        ("LINK_OVERLAP", "low", None, None, None, "U-S2", "U-DCO", None, None,
         _ts(m2 + timedelta(days=4)), "U-S2 linked to U-DST and U-DCO at the same time."),
        ("FS_RETURNED", "info", "RET-1", 1, "I-10", "U-DCO", None, "F-1", None,
         _ts(m0 + timedelta(days=2)), "Facility stock I-10 returned: credit 940.00."),
        ("TRANSFER_NOT_FROM_CUSTODIAN", "medium", None, None, "I-02", None, None, None, "T-2",
         _ts(m2 + timedelta(days=1)), "T-2 sent I-02 from U-S1, custodian was ORG."),
    ]
    ingested_files = [
        (1, "users", "users/users_0001.csv", "ab12", "csv", "LOADED", 6, 6, 0, None, None,
         _ts(today, 6)),
        (2, "event_lines", "event_lines/event_lines_0001.csv", "cd34", "csv",
         "LOADED_WITH_REJECTS", 16, 14, 2, None, None, _ts(today, 6)),
        (3, "events", "events/events_0001.parquet", "ef56", "parquet", "LOADED", 9, 9, 0,
         None, None, _ts(today, 6)),
    ]
    rejected_rows = [
        ("event_lines", "event_lines/event_lines_0001.csv", 4, "negative_quantity",
         "quantity: -2 is below zero", '{"event_id":"CASE-9","quantity":"-2"}', 2,
         _ts(today, 6)),
        ("event_lines", "event_lines/event_lines_0001.csv", 9, "bad_boolean;missing_key",
         "no_charge: 'yes' is not true/false; event_id is empty",
         '{"event_id":"","no_charge":"yes"}', 2, _ts(today, 6)),
    ]
    # fmt: on
    return {
        "marts.dim_users": users,
        "marts.dim_facilities": facilities,
        "marts.dim_products": products,
        "marts.fct_custody_intervals": custody,
        "marts.fct_inventory_status": inventory,
        "marts.fct_facility_stock": facility_stock,
        "marts.fct_facility_stock_access": access,
        "marts.fct_event_lines": event_lines,
        "marts.fct_sales": sales,
        "marts.fct_exceptions": exceptions,
        "marts.dim_exception_codes": _exception_codes(),
        "audit.ingested_files": ingested_files,
        "audit.rejected_rows": rejected_rows,
    }


def _exception_codes() -> list[tuple]:
    """The real seed's rows: the dashboard reads codes and severities from them."""
    seed = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds" / "exception_codes.csv"
    with seed.open(newline="") as f:
        return [
            (r["code"], r["severity"], int(r["severity_rank"]), r["rule"], r["description"],
             r["key_columns"])
            for r in csv.DictReader(f)
        ]  # fmt: skip


def build_fixture_warehouse(path: Path) -> Path:
    """Write the hand-made warehouse to `path` (replacing it) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    rows = _rows()
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema marts")
        con.execute("create schema audit")
        for table, columns in SCHEMA.items():
            cols = ", ".join(f"{name} {type_}" for name, type_ in columns.items())
            con.execute(f"create table {table} ({cols})")
            data = rows.get(table, [])
            if data:
                marks = ", ".join("?" for _ in columns)
                con.executemany(f"insert into {table} values ({marks})", data)
        for table, comment in COMMENTS.items():
            con.execute(f"comment on table {table} is '{comment}'")
        con.execute(
            "comment on column marts.fct_facility_stock.quantity_on_hand is "
            "'Units sold on the stocking order and neither used nor returned.'"
        )
        _derive_reports(con)
    finally:
        con.close()
    return path


def _derive_reports(con: duckdb.DuckDBPyConnection) -> None:
    """Fill the marts derived from other marts (the reports and the non-sale usage) from the
    facts, as the dbt models would."""
    con.execute(
        """
        insert into marts.fct_non_sale_usage
        select
            l.event_id || '#' || l.line_no,
            l.event_id,
            l.line_no,
            l.event_date,
            l.facility_id,
            l.representative_id,
            l.item_id,
            inv.catalog_number,
            inv.lot_number,
            inv.serial_number,
            fs.stocking_order_id,
            fs.seller_id,
            fs.sold_at,
            l.quantity,
            fs.unit_price,
            l.access_path,
            l.custodian_at_use,
            l.billed_amount
        from marts.fct_event_lines as l
        left join marts.fct_facility_stock as fs on fs.item_id = l.item_id
        left join marts.fct_inventory_status as inv on inv.item_id = l.item_id
        where l.usage_class = 'NON_SALE_FACILITY_STOCK'
        """
    )
    con.execute(
        """
        insert into marts.rpt_stock_levels
        select
            fs.facility_id,
            inv.catalog_number,
            sum(fs.quantity_on_hand),
            sum(fs.value_on_hand),
            count(*),
            min(fs.sold_at),
            min(inv.expiration_date),
            sum(fs.quantity_on_hand) filter (
                where inv.expiration_date < current_date + interval 90 day),
            (select count(distinct a.user_id) from marts.fct_facility_stock_access as a
             join marts.fct_inventory_status as i2 on i2.item_id = a.item_id
             where a.facility_id = fs.facility_id and i2.catalog_number = inv.catalog_number)
        from marts.fct_facility_stock as fs
        join marts.fct_inventory_status as inv on inv.item_id = fs.item_id
        where fs.quantity_on_hand > 0
        group by all
        """
    )
    con.execute(
        """
        insert into marts.rpt_reconciliation_monthly
        with lines as (
            select
                l.*,
                date_trunc('month', l.event_date)::date as month,
                coalesce(fs.unit_price, 0) as fs_price,
                exists (select 1 from marts.fct_exceptions x
                        where x.code = 'UNBILLED_SALE' and x.event_id = l.event_id
                          and x.line_no = l.line_no) as unbilled
            from marts.fct_event_lines as l
            left join marts.fct_facility_stock as fs on fs.item_id = l.item_id
        )
        select
            month,
            facility_id,
            coalesce(sum(expected_amount) filter (
                where event_type = 'STOCKING_ORDER' and usage_class = 'SALE'), 0),
            coalesce(sum(expected_amount) filter (
                where event_type = 'CASE' and usage_class = 'SALE'), 0),
            coalesce(sum(expected_amount) filter (where usage_class = 'SALE'), 0),
            coalesce(sum(billed_amount) filter (
                where usage_class in ('SALE', 'NON_SALE_FACILITY_STOCK')), 0),
            coalesce(sum(billed_amount) filter (
                where usage_class = 'NON_SALE_FACILITY_STOCK'), 0),
            coalesce(sum(expected_amount) filter (where unbilled), 0),
            coalesce(sum(quantity) filter (where usage_class = 'NON_SALE_FACILITY_STOCK'), 0),
            coalesce(sum(quantity * fs_price) filter (
                where usage_class = 'NON_SALE_FACILITY_STOCK'), 0),
            coalesce(sum(quantity * fs_price) filter (where event_type = 'RETURN'), 0)
        from lines
        group by all
        """
    )
    con.execute(
        """
        insert into marts.rpt_sales_monthly
        select date_trunc('month', sold_at)::date, representative_id, count(*), sum(quantity),
               sum(amount), sum(commission_amount)
        from marts.fct_sales
        group by all
        """
    )
    con.execute(
        """
        insert into marts.rpt_non_sale_monthly
        select date_trunc('month', event_date)::date, facility_id, representative_id,
               sum(quantity), sum(quantity * unit_price), count(*)
        from marts.fct_non_sale_usage
        group by all
        """
    )


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/custodia_dev.duckdb")
    print(build_fixture_warehouse(target))

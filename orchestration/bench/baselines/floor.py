"""The floor: every mart and all 19 exception codes by hand in one in-memory DuckDB process.

Issue 13's first target measures a full ``custodia build`` against "a plain-DuckDB computation
of the same marts from the same files". This is that computation, written the way a strong
DuckDB user would by hand: the landing folder's files read straight into memory
(``floor_load``), QUALIFY for the newest version per key, window passes over each item's life,
one in-memory temp table per step; no dbt, no tests, no lineage, nothing written to disk.

The steps of ``duckdb_sql`` (item life, custody, access paths, event lines, facility-stock
access) run unchanged; this module adds staging with every column the marts show, the marts
those scripts leave out and the exceptions. Same rules as the dbt models (docs/rules.md);
``tests/test_bench_floor.py`` checks each ``f_<mart>`` table against the warehouse's mart.

The marts end in temp tables named ``f_<mart>`` (``MARTS``); they stay in memory.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import duckdb

from orchestration.bench.baselines import duckdb_sql, floor_exceptions, floor_load
from orchestration.contract import ENTITIES
from orchestration.settings import PROJECT_ROOT


def _newest(table: str, key: str) -> str:
    """The newest version per key of ``w.raw.<table>`` (docs/rules.md, "Newest version"):
    the row with the highest (updated_at, _file_id, _row_number), found by a hash aggregate
    over row ids (several times faster than a window sort of whole rows under 3 GB)."""
    newest = "arg_max(rowid, (updated_at, _file_id, _row_number))"
    return f"where rowid in (select {newest} from w.raw.{table} group by {key})"


# --- staging: the duckdb_sql tables with every column the marts show (same names, so the
# duckdb_sql steps read them unchanged)
STAGING = {
    "items": f"""
create or replace temp table b_items as
select trim(item_id) as item_id, trim(catalog_number) as catalog_number, lot_number,
       serial_number, quantity, coalesce(quantity, 0) as item_quantity, expiration_date,
       trim(initial_custodian_id) as initial_custodian_id, created_at, updated_at
from w.raw.inventory_items
{_newest("inventory_items", "item_id")};
""",
    "products": f"""
create or replace temp table b_products as
select trim(catalog_number) as catalog_number, description as product_description,
       product_line, upper(trim(tracking)) as tracking, is_single_use,
       list_price::decimal(18, 2) as list_price, unit_cost::decimal(18, 2) as unit_cost,
       updated_at
from w.raw.products
{_newest("products", "catalog_number")};
""",
    "events": f"""
create or replace temp table b_events as
select trim(event_id) as event_id, upper(trim(event_type)) as event_type,
       trim(representative_id) as representative_id, trim(facility_id) as facility_id,
       event_date, upper(trim(status)) as event_status, submitted_at, updated_at,
       upper(trim(status)) in ('CLOSED', 'COMPLETED', 'PAID') as is_submitted,
       coalesce(deactivate_on_submit, false) as deactivate_on_submit,
       case when upper(trim(event_type)) = 'CASE' then event_date
            else coalesce(submitted_at, updated_at) end as line_at
from w.raw.events
{_newest("events", "event_id")};
""",
    "lines": f"""
create or replace temp table b_lines as
select trim(event_id) as event_id, line_no, trim(item_id) as item_id, quantity,
       upper(trim(usage_status)) as usage_status,
       upper(trim(usage_status)) in ('USED', 'IMPLANTED', 'IN_OUT', 'DAMAGED_WASTE')
           as is_consuming,
       unit_price, coalesce(no_charge, false) as no_charge,
       coalesce(billed_amount, 0)::decimal(18, 2) as billed_amount, updated_at
from w.raw.event_lines
{_newest("event_lines", "event_id, line_no")};
""",
    "transfers": f"""
create or replace temp table b_transfers as
select trim(transfer_id) as transfer_id, trim(item_id) as item_id,
       trim(from_custodian_id) as from_custodian_id, trim(to_custodian_id) as to_custodian_id,
       quantity, upper(trim(status)) as status,
       coalesce(responded_at, updated_at, created_at) as effective_at,
       created_at, responded_at, updated_at
from w.raw.transfers
{_newest("transfers", "transfer_id")};
""",
    "users": f"""
create or replace temp table b_users as
select trim(user_id) as user_id, email, full_name, upper(trim(role)) as role,
       coalesce(is_custodian_only, false) as is_custodian_only,
       coalesce(is_active, true) as is_active, commission_rate::decimal(9, 4) as commission_rate,
       region, created_at, updated_at
from w.raw.users
{_newest("users", "user_id")};
""",
    "facilities": f"""
create or replace temp table b_facilities as
select trim(facility_id) as facility_id, name as facility_name, state,
       coalesce(contract_complete, false) as contract_complete, updated_at
from w.raw.facilities
{_newest("facilities", "facility_id")};
""",
}

STEPS: dict[str, str] = {**duckdb_sql.STEPS, **STAGING}

STEPS["dims"] = """
create or replace temp table f_dim_users as
select user_id, email, full_name, role, is_custodian_only, is_active, commission_rate, region,
       role in ('SALES', 'DISTRIBUTOR') as can_hold_inventory,
       role in ('PRIMARY_ADMIN', 'ADMIN', 'OPERATIONS') as is_admin, created_at, updated_at
from b_users;
create or replace temp table f_dim_facilities as select * from b_facilities;
create or replace temp table f_dim_products as select * from b_products;
"""

# --- each effect line of b_sequence with its activity and the facility-stock sale it
# falls under (the latest earlier stocking order made while the item was active, R-13)
STEPS["life"] = """
create or replace temp table f_life as
with flagged as (
    select s.*,
           s.after_creation and (d.deactivation_seq is null or s.item_seq <= d.deactivation_seq)
               as is_item_active,
           coalesce(s.item_seq = d.deactivation_seq, false) as is_deactivating_line,
           d.deactivated_at
    from b_sequence s
    left join b_deactivations d on d.item_id = s.item_id
),
sales as (
    select *, starts_stock and is_item_active as is_facility_stock_sale,
           max(case when starts_stock and is_item_active then item_seq end)
               over (partition by item_id order by item_seq
                     rows between unbounded preceding and 1 preceding) as stock_sale_seq
    from flagged
)
select l.*,
       case when l.is_deactivating_line then
           case when l.event_type = 'STOCKING_ORDER' and l.deactivate_on_submit then 'DIRECT_SALE'
                when l.event_type = 'RETURN' then 'RETURNED'
                when l.event_type = 'STOCK_ADJUSTMENT' then 'WRITTEN_OFF'
                else 'CONSUMED' end end as deactivation_reason,
       greatest(l.quantity_left, 0) as quantity_left_after,
       sale.event_id as stock_event_id, sale.facility_id as stock_facility_id,
       sale.representative_id as stock_seller_id, p.unit_price as stock_unit_price
from sales l
left join sales sale on sale.item_id = l.item_id and sale.item_seq = l.stock_sale_seq
left join b_lines p on p.event_id = sale.event_id and p.line_no = sale.line_no;
"""

# --- each item now (int_item_lifecycle): fct_inventory_status and fct_facility_stock
STEPS["items_now"] = """
create or replace temp table f_item_life as
with stock_sale as (
    select l.item_id, l.item_seq, l.event_id, l.line_no, l.line_at, l.quantity,
           l.facility_id, l.representative_id, p.unit_price
    from f_life l
    join b_lines p on p.event_id = l.event_id and p.line_no = l.line_no
    where l.is_facility_stock_sale
    qualify row_number() over (partition by l.item_id order by l.item_seq desc) = 1
),
movements as (
    select s.item_id,
           sum(case when l.event_type not in ('STOCKING_ORDER', 'RETURN', 'STOCK_ADJUSTMENT')
                    then l.quantity else 0 end) as used,
           sum(case when l.event_type = 'RETURN' then l.quantity else 0 end) as returned,
           sum(case when l.event_type = 'STOCK_ADJUSTMENT' then l.quantity else 0 end)
               as adjusted
    from stock_sale s
    join f_life l on l.item_id = s.item_id and l.item_seq > s.item_seq and l.is_item_active
    group by s.item_id
),
remaining as (
    select item_id, quantity_left_after from f_life where is_item_active
    qualify row_number() over (partition by item_id order by item_seq desc) = 1
),
deactivation as (
    select item_id, line_at, deactivation_reason, event_id from f_life where is_deactivating_line
),
joined as (
    select i.item_id, i.catalog_number, i.lot_number, i.serial_number, i.expiration_date,
           c.custodian_id, d.item_id is null as is_active, s.item_id is not null
               as is_facility_stock,
           s.facility_id, s.representative_id as seller_id, i.quantity,
           coalesce(r.quantity_left_after, i.quantity, 0)::bigint as quantity_remaining,
           d.line_at as deactivated_at, d.deactivation_reason,
           d.event_id as deactivated_by_event_id,
           s.event_id as stocking_order_id, s.line_no as stocking_order_line_no,
           s.line_at as sold_at, s.quantity::bigint as quantity_sold,
           coalesce(m.used, 0)::bigint as quantity_used,
           coalesce(m.returned, 0)::bigint as quantity_returned,
           coalesce(m.adjusted, 0)::bigint as quantity_adjusted,
           s.unit_price::decimal(18, 2) as unit_price
    from b_items i
    left join b_custody_intervals c on c.item_id = i.item_id and c.is_current
    left join deactivation d on d.item_id = i.item_id
    left join remaining r on r.item_id = i.item_id
    left join stock_sale s on s.item_id = i.item_id
    left join movements m on m.item_id = i.item_id
)
select *,
       case when not is_facility_stock then null when is_active then 'ON_HAND'
            else deactivation_reason end as status,
       case when is_facility_stock and is_active
                 and quantity_sold - quantity_used - quantity_returned - quantity_adjusted > 0
            then quantity_sold - quantity_used - quantity_returned - quantity_adjusted
            else 0 end::bigint as quantity_on_hand
from joined;

create or replace temp table f_fct_inventory_status as
select item_id, catalog_number, lot_number, serial_number, expiration_date, custodian_id,
       is_active, is_facility_stock, facility_id, seller_id, quantity, quantity_remaining,
       deactivated_at, deactivation_reason, deactivated_by_event_id, a.as_of
from f_item_life cross join b_as_of a;

create or replace temp table f_fct_facility_stock as
select item_id, catalog_number, lot_number, serial_number, expiration_date, facility_id,
       seller_id, custodian_id, stocking_order_id, stocking_order_line_no, sold_at,
       quantity_sold, quantity_used, quantity_returned, quantity_adjusted, quantity_on_hand,
       unit_price, round(quantity_on_hand * unit_price, 2)::decimal(18, 2) as value_on_hand,
       status, deactivated_at
from f_item_life
where is_facility_stock;
"""

STEPS["custody_mart"] = """
create or replace temp view f_fct_custody_intervals as select * from b_custody_intervals;
"""
STEPS["access_mart"] = """
create or replace temp table f_fct_facility_stock_access as select * from b_result;
"""

# --- fct_event_lines, fct_sales: b_line_states (duckdb_sql) with its path, event, item,
# billing and facility-stock columns
STEPS["event_lines_mart"] = """
create or replace temp table f_fct_event_lines as
select s.event_id, s.line_no, s.item_id, s.event_type, e.event_status, e.event_date,
       e.submitted_at, e.facility_id, s.representative_id, l.usage_status, s.line_at,
       i.catalog_number, s.quantity, s.unit_price, s.no_charge,
       s.usage_class, s.is_submitted, s.is_consuming, p.access_path, s.custodian_at_use,
       case when s.usage_class = 'SALE' then round(s.unit_price * s.quantity, 2)
            else 0 end::decimal(18, 2) as expected_amount,
       l.billed_amount, coalesce(f.is_item_active, true) as is_item_active,
       coalesce(f.stock_sale_seq is not null, false) as is_facility_stock,
       f.stock_event_id, f.stock_facility_id, f.stock_seller_id,
       f.stock_unit_price::decimal(18, 2) as stock_unit_price,
       i.expiration_date, i.quantity as item_quantity,
       coalesce(pr.is_single_use, true) as is_single_use
from b_line_states s
join b_events e on e.event_id = s.event_id
join b_lines l on l.event_id = s.event_id and l.line_no = s.line_no
join b_items i on i.item_id = s.item_id
left join b_products pr on pr.catalog_number = i.catalog_number
left join b_paths p on p.request_id = s.line_key
left join f_life f on f.event_id = s.event_id and f.line_no = s.line_no;

create or replace temp table f_fct_sales as
select l.event_id, l.line_no, l.item_id, l.event_type, l.facility_id, l.representative_id,
       l.line_at as sold_at, l.catalog_number, l.quantity, l.unit_price,
       l.expected_amount as amount,
       coalesce(u.commission_rate, 0)::decimal(9, 4) as commission_rate,
       round(l.expected_amount * coalesce(u.commission_rate, 0), 2)::decimal(18, 2)
           as commission_amount,
       l.billed_amount
from f_fct_event_lines l
left join b_users u on u.user_id = l.representative_id
where l.usage_class = 'SALE';
"""

# --- reports
STEPS["reports"] = """
create or replace temp table f_rpt_reconciliation_monthly as
select date_trunc('month', line_at)::date as month, facility_id,
       round(sum(case when usage_class = 'SALE' and event_type = 'STOCKING_ORDER'
                      then expected_amount else 0 end), 2)::decimal(18, 2)
           as stocking_order_revenue,
       round(sum(case when usage_class = 'SALE' and event_type = 'CASE'
                      then expected_amount else 0 end), 2)::decimal(18, 2) as case_sale_revenue,
       round(sum(expected_amount), 2)::decimal(18, 2) as expected_revenue,
       round(sum(billed_amount), 2)::decimal(18, 2) as billed_revenue,
       round(sum(case when usage_class = 'NON_SALE_FACILITY_STOCK' and billed_amount > 0
                      then billed_amount else 0 end), 2)::decimal(18, 2) as double_billed_amount,
       round(sum(case when usage_class = 'SALE' and billed_amount = 0
                      then expected_amount else 0 end), 2)::decimal(18, 2) as unbilled_amount,
       sum(case when usage_class = 'NON_SALE_FACILITY_STOCK' then quantity else 0 end)::bigint
           as non_sale_units,
       round(sum(case when usage_class = 'NON_SALE_FACILITY_STOCK'
                      then coalesce(stock_unit_price, 0) * quantity else 0 end), 2
       )::decimal(18, 2) as non_sale_value,
       round(sum(case when event_type = 'RETURN' and usage_class = 'NON_SALE_EVENT'
                           and is_facility_stock and is_item_active
                      then coalesce(stock_unit_price, 0) * quantity else 0 end), 2
       )::decimal(18, 2) as returned_value
from f_fct_event_lines
where usage_class <> 'NOT_SUBMITTED'
group by all;

create or replace temp table f_rpt_stock_levels as
with on_hand as (
    select * from f_fct_facility_stock where status = 'ON_HAND' and quantity_on_hand > 0
),
levels as (
    select facility_id, catalog_number, sum(quantity_on_hand)::bigint as quantity_on_hand,
           sum(value_on_hand)::decimal(18, 2) as value_on_hand, count(*)::bigint as items,
           min(sold_at) as oldest_sold_at, min(expiration_date) as next_expiration,
           sum(case when expiration_date <= (a.as_of + interval 90 day)::date
                    then quantity_on_hand else 0 end)::bigint as quantity_expiring_90d
    from on_hand cross join b_as_of a
    group by facility_id, catalog_number
),
eligible as (
    select o.facility_id, o.catalog_number, count(distinct x.user_id) as eligible_users,
           string_agg(distinct x.user_id, ', ' order by x.user_id) as eligible_user_ids
    from on_hand o join f_fct_facility_stock_access x on x.item_id = o.item_id
    group by o.facility_id, o.catalog_number
)
select levels.*, coalesce(eligible.eligible_users, 0)::bigint as eligible_users,
       eligible.eligible_user_ids
from levels left join eligible using (facility_id, catalog_number);
"""

# each entity is staged as soon as it is read and its raw table dropped: the raw rows and the
# staged ones never all sit in memory together (the same 3 GB as a build)
STAGED_FROM = {
    "users": "users",
    "distributor_links": "links",
    "sharing_settings": "sharing",
    "facilities": "facilities",
    "products": "products",
    "inventory_items": "items",
    "transfers": "transfers",
    "events": "events",
    "event_lines": "lines",
}
SCRIPT = [
    "dims", "sequence", "deactivations", "custody", "custody_mart", "as_of",
    "facility_stock_access", "paths", "facility_stock_access_result", "access_mart",
    "life", "items_now", "event_lines", "paths", "event_lines_mart", "reports",
    *floor_exceptions.SCRIPT,
]  # fmt: skip
STEPS.update(floor_exceptions.STEPS)

MARTS = [
    "dim_users", "dim_facilities", "dim_products", "fct_custody_intervals",
    "fct_inventory_status", "fct_facility_stock", "fct_facility_stock_access",
    "fct_event_lines", "fct_sales", "fct_exceptions", "rpt_stock_levels",
    "rpt_reconciliation_monthly",
]  # fmt: skip
EXCEPTION_CODES = PROJECT_ROOT / "dbt_project" / "seeds" / "exception_codes.csv"


def run(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    """Read ``landing`` and compute every mart into the temp tables ``f_<mart>``."""
    for entity in ENTITIES.values():
        floor_load.load_entity(con, landing, entity)
        con.execute(STEPS[STAGED_FROM[entity.name]])
        con.execute(f"drop table w.raw.{entity.name}")
    con.execute(
        "create or replace temp table b_exception_codes as select code, severity "
        f"from read_csv('{EXCEPTION_CODES}', header = true, all_varchar = true)"
    )
    for step in SCRIPT:
        con.execute(STEPS[step])


BUDGETS = {
    # what a plain DuckDB user gets on this machine: its two cores and DuckDB's default
    # memory limit (80% of RAM); the floor issue 13's target is measured against
    "plain": {"threads": 2},
    # the build's own budget (dbt profile and ingestion: 2 threads, 3 GB, then spilling)
    "build_budget": {"threads": 2, "memory_limit": "3GB"},
}


def connect(budget: str = "plain") -> duckdb.DuckDBPyConnection:
    """An in-memory database with one of the ``BUDGETS``."""
    con = duckdb.connect(config=BUDGETS[budget])
    con.execute("set enable_progress_bar = false")
    return con


def main(argv: list[str] | None = None) -> int:
    """``python -m orchestration.bench.baselines.floor LANDING [BUDGET]``: the measured process."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (1, 2) or (len(argv) == 2 and argv[1] not in BUDGETS):
        print(
            f"usage: python -m orchestration.bench.baselines.floor LANDING [{'|'.join(BUDGETS)}]",
            file=sys.stderr,
        )
        return 2
    start = time.perf_counter()
    con = connect(argv[1] if len(argv) == 2 else "plain")
    run(con, Path(argv[0]))
    rows = sum(con.execute(f"select count(*) from f_{m}").fetchone()[0] for m in MARTS)
    print(f"floor: {len(MARTS)} marts, {rows} rows in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

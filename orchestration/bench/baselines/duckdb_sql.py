"""The core marts as hand-written DuckDB scripts (no dbt), from ``raw.*``.

Same rules as the dbt models (docs/rules.md), written the way one would by hand for DuckDB:
QUALIFY for the newest version per key, one window pass per step, every step an in-memory
temp table. A mart's script is the list of steps it needs (``SCRIPTS``); the steps are shared,
so the three marts compute custody, item life and access paths the same way.
"""

from __future__ import annotations

import duckdb
import pandas as pd


def _newest(key: str, order: str = "updated_at desc, _file_id desc, _row_number desc") -> str:
    """The newest version per key of a raw table (docs/rules.md, "Newest version")."""
    return f"qualify row_number() over (partition by {key} order by {order}) = 1"


STEPS: dict[str, str] = {}

# --- staging: newest version per key, trimmed and upper-cased as dbt's staging does
STEPS["items"] = f"""
create or replace temp table b_items as
select trim(item_id) as item_id, trim(catalog_number) as catalog_number,
       coalesce(quantity, 0) as item_quantity, trim(initial_custodian_id) as initial_custodian_id,
       created_at, updated_at
from w.raw.inventory_items
{_newest("item_id")};
"""
STEPS["products"] = f"""
create or replace temp table b_products as
select trim(catalog_number) as catalog_number, is_single_use, updated_at
from w.raw.products
{_newest("catalog_number")};
"""
STEPS["events"] = f"""
create or replace temp table b_events as
select trim(event_id) as event_id, upper(trim(event_type)) as event_type,
       trim(representative_id) as representative_id, trim(facility_id) as facility_id,
       event_date, submitted_at, updated_at,
       upper(trim(status)) in ('CLOSED', 'COMPLETED', 'PAID') as is_submitted,
       coalesce(deactivate_on_submit, false) as deactivate_on_submit,
       case when upper(trim(event_type)) = 'CASE' then event_date
            else coalesce(submitted_at, updated_at) end as line_at
from w.raw.events
{_newest("event_id")};
"""
STEPS["lines"] = f"""
create or replace temp table b_lines as
select trim(event_id) as event_id, line_no, trim(item_id) as item_id, quantity,
       upper(trim(usage_status)) in ('USED', 'IMPLANTED', 'IN_OUT', 'DAMAGED_WASTE')
           as is_consuming,
       unit_price, coalesce(no_charge, false) as no_charge, updated_at
from w.raw.event_lines
{_newest("event_id, line_no")};
"""
STEPS["transfers"] = f"""
create or replace temp table b_transfers as
select trim(transfer_id) as transfer_id, trim(item_id) as item_id,
       trim(to_custodian_id) as to_custodian_id, upper(trim(status)) as status,
       coalesce(responded_at, updated_at, created_at) as effective_at,
       created_at, responded_at, updated_at
from w.raw.transfers
{_newest("transfer_id")};
"""
STEPS["users"] = f"""
create or replace temp table b_users as
select trim(user_id) as user_id, upper(trim(role)) as role,
       coalesce(is_custodian_only, false) as is_custodian_only, created_at, updated_at
from w.raw.users
{_newest("user_id")};
"""
STEPS["links"] = f"""
create or replace temp table b_links as
select trim(distributor_user_id) as distributor_user_id, trim(sales_user_id) as sales_user_id,
       linked_at, unlinked_at, updated_at
from w.raw.distributor_links
{_newest("distributor_user_id, sales_user_id, linked_at")};
"""
# no updated_at on sharing settings: the later delivery wins; each row holds until the next
STEPS["sharing"] = f"""
create or replace temp table b_sharing as
with settings as (
    select trim(distributor_user_id) as distributor_user_id, sharing_enabled, effective_at
    from w.raw.sharing_settings
    {_newest("distributor_user_id, effective_at", "_file_id desc, _row_number desc")}
)
select *, effective_at as valid_from,
       lead(effective_at) over (partition by distributor_user_id order by effective_at)
           as valid_to
from settings;
"""
STEPS["facilities"] = f"""
create or replace temp table b_facilities as
select trim(facility_id) as facility_id, updated_at
from w.raw.facilities
{_newest("facility_id")};
"""

# --- item life: the consuming lines of submitted events on
# known items, per item in time order, with the facility-stock epoch each line is in, the
# quantity left after it and whether it deactivates the item
STEPS["sequence"] = """
create or replace temp table b_sequence as
with effect as (
    select l.item_id, l.event_id, l.line_no, coalesce(l.quantity, 0) as quantity,
           e.event_type, e.representative_id, e.facility_id, e.line_at,
           e.deactivate_on_submit, i.item_quantity,
           coalesce(p.is_single_use, true) as is_single_use,
           e.line_at >= i.created_at as after_creation
    from b_lines l
    join b_events e on e.event_id = l.event_id
    join b_items i on i.item_id = l.item_id
    left join b_products p on p.catalog_number = i.catalog_number
    where e.is_submitted and l.is_consuming and e.line_at is not null
),
epochs as (
    select *,
           after_creation and event_type = 'STOCKING_ORDER' and not deactivate_on_submit
               as starts_stock,
           row_number() over w as item_seq,
           sum(case when after_creation and event_type = 'STOCKING_ORDER'
                         and not deactivate_on_submit then 1 else 0 end) over w as stock_epoch
    from effect
    window w as (partition by item_id order by line_at, event_id, line_no
                 rows between unbounded preceding and current row)
),
takes as (
    select *,
           case when not after_creation then false
                when event_type = 'STOCKING_ORDER' then deactivate_on_submit
                when event_type in ('RETURN', 'STOCK_ADJUSTMENT') then true
                when stock_epoch > 0 then true
                else is_single_use end as takes_quantity
    from epochs
),
remaining as (
    select *,
           case when stock_epoch = 0 then item_quantity
                else first_value(quantity) over e end
           - sum(case when takes_quantity then quantity else 0 end) over e as quantity_left
    from takes
    window e as (partition by item_id, stock_epoch order by item_seq
                 rows between unbounded preceding and current row)
)
select *,
       after_creation
       and ((event_type = 'STOCKING_ORDER' and deactivate_on_submit)
            or (takes_quantity and quantity_left <= 0)) as deactivates
from remaining;
"""
# the first deactivating line of each item; lines after it are on an inactive item
STEPS["deactivations"] = """
create or replace temp table b_deactivations as
select item_id, min(item_seq) as deactivation_seq, arg_min(line_at, item_seq) as deactivated_at
from b_sequence
where deactivates
group by item_id;
"""

# --- custody periods
STEPS["custody"] = """
create or replace temp table b_custody_intervals as
with moves as (
    select item_id, initial_custodian_id as custodian_id, created_at as moved_at,
           0 as move_order, null::varchar as transfer_id
    from b_items
    union all
    select t.item_id, t.to_custodian_id, t.effective_at, 1, t.transfer_id
    from b_transfers t
    join b_items i on i.item_id = t.item_id
    left join b_deactivations d on d.item_id = t.item_id
    where t.status = 'ACCEPTED' and t.effective_at >= i.created_at
      and (d.deactivated_at is null or t.effective_at <= d.deactivated_at)
),
sequenced as (
    select *,
           row_number() over w as interval_no,
           lead(moved_at) over w as valid_to,
           lag(custodian_id) over w as previous_custodian_id
    from moves
    window w as (partition by item_id order by move_order, moved_at, transfer_id)
)
select item_id || '#' || interval_no as custody_interval_id,
       s.item_id, interval_no::bigint as interval_no, s.custodian_id,
       case when s.custodian_id = 'ORG' then 'ORG' else u.role end as custodian_role,
       s.moved_at as valid_from, s.valid_to, s.transfer_id, s.valid_to is null as is_current,
       s.previous_custodian_id
from sequenced s
left join b_users u on u.user_id = s.custodian_id;
"""

# --- access paths of each request of b_requests (request_id, actor_id, target_id,
# checked_at): the best path, 1 OWN, 2 DISTRIBUTOR_SHARE, 3 DISTRIBUTOR_OVER_REP, 4 ADMIN
STEPS["paths"] = """
create or replace temp table b_paths as
with candidates as (
    select request_id, 1 as path_rank from b_requests where actor_id = target_id
    union all
    select r.request_id, 2
    from b_requests r
    join b_users c on c.user_id = r.target_id and c.role = 'DISTRIBUTOR'
    join b_users a on a.user_id = r.actor_id and a.role = 'SALES'
    join b_links l on l.distributor_user_id = r.target_id and l.sales_user_id = r.actor_id
                  and l.linked_at <= r.checked_at
                  and (l.unlinked_at is null or r.checked_at < l.unlinked_at)
    where not exists (
        select 1 from b_sharing s
        where s.distributor_user_id = r.target_id and s.sharing_enabled = false
          and s.valid_from <= r.checked_at
          and (s.valid_to is null or r.checked_at < s.valid_to))
    union all
    select r.request_id, 3
    from b_requests r
    join b_users a on a.user_id = r.actor_id and a.role = 'DISTRIBUTOR'
                  and not a.is_custodian_only
    join b_users c on c.user_id = r.target_id and c.role = 'SALES'
    join b_links l on l.distributor_user_id = r.actor_id and l.sales_user_id = r.target_id
                  and l.linked_at <= r.checked_at
                  and (l.unlinked_at is null or r.checked_at < l.unlinked_at)
    union all
    select r.request_id, 4
    from b_requests r
    join b_users a on a.user_id = r.actor_id
                  and a.role in ('PRIMARY_ADMIN', 'ADMIN', 'OPERATIONS')
)
select request_id,
       case min(path_rank) when 1 then 'OWN' when 2 then 'DISTRIBUTOR_SHARE'
            when 3 then 'DISTRIBUTOR_OVER_REP' when 4 then 'ADMIN' end as access_path
from candidates
group by request_id;
"""

# --- "now": the latest business timestamp in any staged table (int_reference_instant)
STEPS["as_of"] = """
create or replace temp table b_as_of as
select coalesce(max(t), '1970-01-01 00:00:00'::timestamp) as as_of
from (
    select max(updated_at) as t from b_users union all select max(created_at) from b_users
    union all select max(updated_at) from b_links union all select max(linked_at) from b_links
    union all select max(unlinked_at) from b_links
    union all select max(effective_at) from b_sharing
    union all select max(updated_at) from b_facilities
    union all select max(updated_at) from b_products
    union all select max(updated_at) from b_items union all select max(created_at) from b_items
    union all select max(updated_at) from b_transfers
    union all select max(created_at) from b_transfers
    union all select max(responded_at) from b_transfers
    union all select max(updated_at) from b_events union all select max(event_date) from b_events
    union all select max(submitted_at) from b_events
    union all select max(updated_at) from b_lines
);
"""

# --- fct_facility_stock_access: on-hand facility stock x user (neither admin nor
# custodian-only) with a path to the seller now
STEPS["facility_stock_access"] = """
create or replace temp table b_on_hand as
with sales as (
    -- the latest stocking order of each item never deactivated: its facility and seller (R-7)
    select s.item_id, s.item_seq, s.facility_id, s.representative_id as seller_id,
           s.quantity as quantity_sold
    from b_sequence s
    anti join b_deactivations d on d.item_id = s.item_id
    where s.starts_stock
    qualify row_number() over (partition by s.item_id order by s.item_seq desc) = 1
),
taken as (
    -- used, returned and written off since the sale (R-11, R-12)
    select sales.item_id, sum(s.quantity) as quantity_taken
    from sales
    join b_sequence s on s.item_id = sales.item_id and s.item_seq > sales.item_seq
    where s.event_type <> 'STOCKING_ORDER'
    group by sales.item_id
)
select sales.item_id, sales.facility_id, sales.seller_id
from sales
left join taken on taken.item_id = sales.item_id
where sales.quantity_sold - coalesce(taken.quantity_taken, 0) > 0;

-- only the seller and the users ever linked to it can have a path; admins are left out, and
-- so are custodian-only accounts (they never act: docs/rules.md, readings of our own)
create or replace temp table b_requests as
with sellers as (select distinct seller_id from b_on_hand),
partners as (
    select seller_id, seller_id as user_id from sellers
    union
    select s.seller_id, l.sales_user_id from sellers s
    join b_links l on l.distributor_user_id = s.seller_id
    union
    select s.seller_id, l.distributor_user_id from sellers s
    join b_links l on l.sales_user_id = s.seller_id
)
select row_number() over () as request_id, p.user_id as actor_id, p.seller_id as target_id,
       a.as_of as checked_at
from partners p
join b_users u on u.user_id = p.user_id
cross join b_as_of a
where u.role not in ('PRIMARY_ADMIN', 'ADMIN', 'OPERATIONS') and not u.is_custodian_only;
"""
STEPS["facility_stock_access_result"] = """
create or replace temp table b_result as
select o.item_id, o.facility_id, r.actor_id as user_id, p.access_path, o.seller_id,
       r.checked_at as as_of
from b_requests r
join b_paths p on p.request_id = r.request_id
join b_on_hand o on o.seller_id = r.target_id
where p.access_path <> 'ADMIN';
"""

# --- fct_event_lines: every line on a known event and item, classified,
# with the custodian at its instant and the representative's path to the custodian, or to
# the seller for facility stock
STEPS["event_lines"] = """
create or replace temp table b_line_states as
with stock as (
    -- the latest earlier stocking order made while the item was active (facility stock for
    -- life, R-13)
    select s.item_id, s.event_id, s.line_no,
           max(case when s.starts_stock
                         and (d.deactivation_seq is null or s.item_seq <= d.deactivation_seq)
                    then s.item_seq end)
               over (partition by s.item_id order by s.item_seq
                     rows between unbounded preceding and 1 preceding) as stock_sale_seq
    from b_sequence s
    left join b_deactivations d on d.item_id = s.item_id
),
stock_lines as (
    select stock.event_id, stock.line_no, sale.representative_id as stock_seller_id
    from stock
    join b_sequence sale on sale.item_id = stock.item_id and sale.item_seq = stock.stock_sale_seq
),
known as (
    select l.event_id, l.line_no, l.item_id, l.quantity, l.is_consuming, l.unit_price,
           l.no_charge, e.event_type, e.representative_id, e.is_submitted, e.line_at,
           fs.event_id is not null as is_facility_stock, fs.stock_seller_id,
           c.custodian_id as custodian_at_use
    from b_lines l
    join b_events e on e.event_id = l.event_id
    join b_items i on i.item_id = l.item_id
    left join stock_lines fs on fs.event_id = l.event_id and fs.line_no = l.line_no
    left join b_custody_intervals c
        on e.is_submitted and c.item_id = l.item_id and c.valid_from <= e.line_at
       and (c.valid_to is null or e.line_at < c.valid_to)
)
select row_number() over () as line_key, *,
       case when not is_submitted then 'NOT_SUBMITTED'
            when not is_consuming then 'NOT_CONSUMED'
            when event_type = 'STOCKING_ORDER' and no_charge then 'NO_CHARGE'
            when event_type = 'STOCKING_ORDER' then 'SALE'
            when event_type <> 'CASE' then 'NON_SALE_EVENT'
            when is_facility_stock then 'NON_SALE_FACILITY_STOCK'
            when no_charge then 'NO_CHARGE'
            else 'SALE' end as usage_class
from known;

create or replace temp table b_requests as
select line_key as request_id, representative_id as actor_id,
       case when is_facility_stock then stock_seller_id else custodian_at_use end as target_id,
       line_at as checked_at
from b_line_states
where is_submitted and is_consuming and event_type = 'CASE';
"""
STEPS["event_lines_result"] = """
create or replace temp table b_result as
select s.event_id, s.line_no, s.item_id, s.usage_class, p.access_path, s.custodian_at_use,
       case when s.usage_class = 'SALE' then round(s.unit_price * s.quantity, 2)
            else 0 end::decimal(18, 2) as expected_amount
from b_line_states s
left join b_paths p on p.request_id = s.line_key;
"""

_LIFE = ["items", "products", "events", "lines", "sequence", "deactivations"]
SCRIPTS: dict[str, list[str]] = {
    "fct_custody_intervals": [*_LIFE, "transfers", "users", "custody"],
    "fct_facility_stock_access": [
        *_LIFE, "transfers", "users", "links", "sharing", "facilities", "as_of",
        "facility_stock_access", "paths", "facility_stock_access_result",
    ],
    "fct_event_lines": [
        *_LIFE, "transfers", "users", "links", "sharing", "custody",
        "event_lines", "paths", "event_lines_result",
    ],
}  # fmt: skip
RESULT = {"fct_custody_intervals": "b_custody_intervals"}  # the others end in b_result


def run(con: duckdb.DuckDBPyConnection, mart: str) -> str:
    """Run the mart's script; returns the temp table that holds the result."""
    for step in SCRIPTS[mart]:
        con.execute(STEPS[step])
    return RESULT.get(mart, "b_result")


def compute(con: duckdb.DuckDBPyConnection, mart: str, fetch: bool = True) -> pd.DataFrame | None:
    """``con`` is an in-memory connection with the warehouse attached as ``w``."""
    table = run(con, mart)
    return con.execute(f"select * from {table}").df() if fetch else None

"""The custody mart as one hand-written DuckDB script (no dbt), from ``raw.*``.

Same rules as the dbt models (newest version per key, R-1, R-3, R-18 and the item's
deactivation by its lines), written the way one would by hand for DuckDB: QUALIFY for the
newest versions, one window pass per step, results in in-memory tables.
"""

from __future__ import annotations

import duckdb
import pandas as pd

SCRIPT = """
create or replace temp table b_items as
select trim(item_id) as item_id, trim(catalog_number) as catalog_number,
       coalesce(quantity, 0) as item_quantity, trim(initial_custodian_id) as initial_custodian_id,
       created_at
from w.raw.inventory_items
qualify row_number() over (partition by item_id
                           order by updated_at desc, _file_id desc, _row_number desc) = 1;

create or replace temp table b_deactivations as
with products as (
    select trim(catalog_number) as catalog_number, is_single_use
    from w.raw.products
    qualify row_number() over (partition by catalog_number
                               order by updated_at desc, _file_id desc, _row_number desc) = 1
),
events as (
    select trim(event_id) as event_id, upper(trim(event_type)) as event_type,
           upper(trim(status)) in ('CLOSED', 'COMPLETED', 'PAID') as is_submitted,
           coalesce(deactivate_on_submit, false) as deactivate_on_submit,
           case when upper(trim(event_type)) = 'CASE' then event_date
                else coalesce(submitted_at, updated_at) end as line_at
    from w.raw.events
    qualify row_number() over (partition by event_id
                               order by updated_at desc, _file_id desc, _row_number desc) = 1
),
lines as (
    select trim(event_id) as event_id, line_no, trim(item_id) as item_id,
           coalesce(quantity, 0) as quantity,
           upper(trim(usage_status)) in ('USED', 'IMPLANTED', 'IN_OUT', 'DAMAGED_WASTE')
               as is_consuming
    from w.raw.event_lines
    qualify row_number() over (partition by event_id, line_no
                               order by updated_at desc, _file_id desc, _row_number desc) = 1
),
effect as (
    select l.item_id, l.event_id, l.line_no, l.quantity, e.event_type, e.line_at,
           e.deactivate_on_submit, i.item_quantity,
           coalesce(p.is_single_use, true) as is_single_use,
           e.line_at >= i.created_at as after_creation
    from lines l
    join events e on e.event_id = l.event_id
    join b_items i on i.item_id = l.item_id
    left join products p on p.catalog_number = i.catalog_number
    where e.is_submitted and l.is_consuming and e.line_at is not null
),
epochs as (
    select *,
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
select item_id, arg_min(line_at, item_seq) as deactivated_at
from remaining
where after_creation
  and ((event_type = 'STOCKING_ORDER' and deactivate_on_submit)
       or (takes_quantity and quantity_left <= 0))
group by item_id;

create or replace temp table b_custody_intervals as
with transfers as (
    select trim(transfer_id) as transfer_id, trim(item_id) as item_id,
           trim(to_custodian_id) as to_custodian_id,
           upper(trim(status)) as status,
           coalesce(responded_at, updated_at, created_at) as effective_at
    from w.raw.transfers
    qualify row_number() over (partition by transfer_id
                               order by updated_at desc, _file_id desc, _row_number desc) = 1
),
users as (
    select trim(user_id) as user_id, upper(trim(role)) as role
    from w.raw.users
    qualify row_number() over (partition by user_id
                               order by updated_at desc, _file_id desc, _row_number desc) = 1
),
moves as (
    select item_id, initial_custodian_id as custodian_id, created_at as moved_at,
           0 as move_order, null::varchar as transfer_id
    from b_items
    union all
    select t.item_id, t.to_custodian_id, t.effective_at, 1, t.transfer_id
    from transfers t
    join b_items i on i.item_id = t.item_id
    left join b_deactivations d on d.item_id = t.item_id
    where t.status = 'ACCEPTED' and t.effective_at >= i.created_at
      and (d.deactivated_at is null or t.effective_at <= d.deactivated_at)
),
sequenced as (
    select *,
           row_number() over w as interval_no,
           lead(moved_at) over w as valid_to
    from moves
    window w as (partition by item_id order by move_order, moved_at, transfer_id)
)
select item_id || '#' || interval_no as custody_interval_id,
       s.item_id, interval_no::bigint as interval_no, s.custodian_id,
       case when s.custodian_id = 'ORG' then 'ORG' else u.role end as custodian_role,
       s.moved_at as valid_from, s.valid_to, s.transfer_id, s.valid_to is null as is_current
from sequenced s
left join users u on u.user_id = s.custodian_id;
"""


def run(con: duckdb.DuckDBPyConnection) -> None:
    """Run the script; the result is the temp table ``b_custody_intervals``."""
    con.execute(SCRIPT)


def custody_intervals(con: duckdb.DuckDBPyConnection, fetch: bool = True) -> pd.DataFrame | None:
    """``con`` is an in-memory connection with the warehouse attached as ``w``."""
    run(con)
    if fetch:
        return con.execute("select * from b_custody_intervals").df()
    return None

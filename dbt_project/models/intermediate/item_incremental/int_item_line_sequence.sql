{#- The chronological life of each item, line by line (R-7, R-8, R-11, R-12, R-15, R-18).

    Effect lines: consuming (non-UNUSED) lines of submitted events on known items, ordered per
    item by (instant, event_id, line_no). The state a line-by-line simulation would carry is
    rebuilt with window functions:

    - a line before the item's created_at finds no item: it changes nothing and is on an
      inactive item;
    - a stocking-order line that is not a direct sale starts a new facility-stock "epoch"
      (R-7): the item's remaining quantity becomes the quantity sold, counters restart;
    - each line then takes quantity off the remaining quantity of its epoch: returns and
      stock adjustments always (R-12), direct sales always (R-8), consumption of facility
      stock always (R-11), other consumption only for single-use products (R-15);
    - the first line that brings the remaining quantity to 0, or a direct sale, deactivates
      the item; every later line is on an inactive item (R-18) and changes nothing;
    - facility stock = a stocking-order epoch started while the item was active; the item
      keeps it, with facility and seller, for life (R-13).
    Item-grained incremental (macros/item_incremental.sql). -#}
-- depends_on: {{ ref('int_touched_entities') }}
with

event_lines as (

    select * from {{ ref('int_event_lines') }}
    where {{ only_touched('item_id') }}

),

effect_lines as (

    select
        event_line_id,
        event_id,
        line_no,
        item_id,
        coalesce(quantity, 0) as quantity,
        event_type,
        representative_id,
        facility_id,
        unit_price,
        line_at,
        deactivate_on_submit,
        coalesce(item_quantity, 0) as item_quantity,
        is_single_use,
        line_at >= item_created_at as is_after_creation,
        row_number() over (
            partition by item_id
            order by line_at, event_id, line_no
        ) as item_seq
    from event_lines
    where
        is_event_known
        and is_item_known
        and is_submitted
        and is_consuming
        and line_at is not null

),

stock_sales as (

    select
        *,
        case
            when
                is_after_creation
                and event_type = 'STOCKING_ORDER'
                and not deactivate_on_submit then 1
            else 0
        end as starts_stock_epoch
    from effect_lines

),

epochs as (

    select
        *,
        sum(starts_stock_epoch) over (
            partition by item_id
            order by item_seq
            rows between unbounded preceding and current row
        ) as stock_epoch
    from stock_sales

),

decrements as (

    select
        *,
        case
            when not is_after_creation then false
            when event_type = 'STOCKING_ORDER' then deactivate_on_submit
            when event_type in ('RETURN', 'STOCK_ADJUSTMENT') then true
            when stock_epoch > 0 then true
            else is_single_use
        end as takes_quantity
    from epochs

),

remaining as (

    select
        *,
        case
            when stock_epoch = 0 then item_quantity
            else first_value(quantity) over (
                partition by item_id, stock_epoch
                order by item_seq
                rows between unbounded preceding and current row
            )
        end
        - sum(case when takes_quantity then quantity else 0 end) over (
            partition by item_id, stock_epoch
            order by item_seq
            rows between unbounded preceding and current row
        ) as quantity_left_after
    from decrements

),

candidates as (

    select
        *,
        case
            when not is_after_creation then null
            when event_type = 'STOCKING_ORDER' and deactivate_on_submit then 'DIRECT_SALE'
            when takes_quantity and quantity_left_after <= 0 then
                case event_type
                    when 'RETURN' then 'RETURNED'
                    when 'STOCK_ADJUSTMENT' then 'WRITTEN_OFF'
                    else 'CONSUMED'
                end
        end as deactivates_as
    from remaining

),

first_deactivation as (

    select
        *,
        min(case when deactivates_as is not null then item_seq end) over (
            partition by item_id
        ) as deactivation_seq
    from candidates

),

activity as (

    select
        *,
        is_after_creation
        and (deactivation_seq is null or item_seq <= deactivation_seq) as is_item_active,
        coalesce(item_seq = deactivation_seq, false) as is_deactivating_line
    from first_deactivation

),

stock_state as (

    select
        *,
        starts_stock_epoch = 1 and is_item_active as is_facility_stock_sale,
        max(case when starts_stock_epoch = 1 and is_item_active then item_seq end) over (
            partition by item_id
            order by item_seq
            rows between unbounded preceding and 1 preceding
        ) as stock_sale_seq
    from activity

),

final as (

    select
        sequenced_line.event_line_id,
        sequenced_line.event_id,
        sequenced_line.line_no,
        sequenced_line.item_id,
        sequenced_line.item_seq,
        sequenced_line.line_at,
        sequenced_line.event_type,
        sequenced_line.facility_id,
        sequenced_line.representative_id,
        sequenced_line.unit_price,
        sequenced_line.quantity,
        sequenced_line.stock_epoch,
        sequenced_line.takes_quantity,
        case
            when sequenced_line.quantity_left_after > 0
                then sequenced_line.quantity_left_after
            else 0
        end as quantity_left_after,
        sequenced_line.is_item_active,
        sequenced_line.is_deactivating_line,
        case
            when sequenced_line.is_deactivating_line then sequenced_line.deactivates_as
        end as deactivation_reason,
        sequenced_line.is_facility_stock_sale,
        sequenced_line.stock_sale_seq is not null as is_facility_stock,
        sale.event_id as stock_event_id,
        sale.line_no as stock_line_no,
        sale.facility_id as stock_facility_id,
        sale.representative_id as stock_seller_id,
        sale.unit_price as stock_unit_price,
        sale.quantity as stock_quantity_sold,
        sale.line_at as stock_sold_at,
        {{ through_file_id() }} as _through_file_id
    from stock_state as sequenced_line
    left join stock_state as sale
        on
            sequenced_line.item_id = sale.item_id
            and sequenced_line.stock_sale_seq = sale.item_seq

)

select * from final

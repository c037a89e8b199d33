{#- One row per known item: custodian now, activity, deactivation, remaining quantity, and
    its facility-stock record (the latest stocking order while active, R-7) with the usage,
    returns and adjustments since (R-11, R-12). Status as of the build's reference instant,
    which is the latest timestamp in the data, so every line is already applied.
    Item-grained incremental (macros/item_incremental.sql). -#}
-- depends_on: {{ ref('int_touched_entities') }}
with

items as (

    select * from {{ ref('stg_inventory_items') }}
    where {{ only_touched('item_id') }}

),

products as (

    select * from {{ ref('stg_products') }}

),

line_sequence as (

    select * from {{ ref('int_item_line_sequence') }}
    where {{ only_touched('item_id') }}

),

custody_intervals as (

    select * from {{ ref('int_custody_intervals') }}
    where {{ only_touched('item_id') }}

),

current_custody as (

    select
        item_id,
        custodian_id,
        valid_from as custodian_since
    from custody_intervals
    where is_current

),

deactivations as (

    select
        item_id,
        line_at as deactivated_at,
        deactivation_reason,
        event_id as deactivated_by_event_id,
        line_no as deactivated_by_line_no
    from line_sequence
    where is_deactivating_line

),

last_live_line as (

    select
        item_id,
        max(item_seq) as last_live_seq
    from line_sequence
    where is_item_active
    group by item_id

),

remaining as (

    select
        line_sequence.item_id,
        line_sequence.quantity_left_after as quantity_remaining
    from line_sequence
    inner join last_live_line
        on
            line_sequence.item_id = last_live_line.item_id
            and line_sequence.item_seq = last_live_line.last_live_seq

),

latest_stock_sale as (

    select
        item_id,
        max(item_seq) as stock_sale_seq
    from line_sequence
    where is_facility_stock_sale
    group by item_id

),

stock_sale as (

    select
        line_sequence.item_id,
        line_sequence.item_seq as stock_sale_seq,
        line_sequence.event_id as stock_event_id,
        line_sequence.line_no as stock_line_no,
        line_sequence.line_at as stock_sold_at,
        line_sequence.quantity as stock_quantity_sold,
        line_sequence.facility_id as stock_facility_id,
        line_sequence.representative_id as stock_seller_id,
        line_sequence.unit_price as stock_unit_price
    from line_sequence
    inner join latest_stock_sale
        on
            line_sequence.item_id = latest_stock_sale.item_id
            and line_sequence.item_seq = latest_stock_sale.stock_sale_seq

),

stock_movements as (

    select
        stock_sale.item_id,
        sum(case
            when line_sequence.event_type not in ('STOCKING_ORDER', 'RETURN', 'STOCK_ADJUSTMENT')
                then line_sequence.quantity
            else 0
        end) as stock_quantity_used,
        sum(case
            when line_sequence.event_type = 'RETURN' then line_sequence.quantity else 0
        end) as stock_quantity_returned,
        sum(case
            when line_sequence.event_type = 'STOCK_ADJUSTMENT' then line_sequence.quantity
            else 0
        end) as stock_quantity_adjusted
    from stock_sale
    inner join line_sequence
        on
            stock_sale.item_id = line_sequence.item_id
            and stock_sale.stock_sale_seq < line_sequence.item_seq
            and line_sequence.is_item_active
    group by stock_sale.item_id

),

joined as (

    select
        items.item_id,
        items.catalog_number,
        items.lot_number,
        items.serial_number,
        items.quantity as item_quantity,
        items.expiration_date,
        items.initial_custodian_id,
        items.created_at,
        coalesce(products.is_single_use, true) as is_single_use,
        current_custody.custodian_id,
        current_custody.custodian_since,
        deactivations.deactivated_at is null as is_active,
        deactivations.deactivated_at,
        deactivations.deactivation_reason,
        deactivations.deactivated_by_event_id,
        deactivations.deactivated_by_line_no,
        coalesce(remaining.quantity_remaining, items.quantity, 0) as quantity_remaining,
        stock_sale.item_id is not null as is_facility_stock,
        stock_sale.stock_event_id,
        stock_sale.stock_line_no,
        stock_sale.stock_sold_at,
        stock_sale.stock_facility_id,
        stock_sale.stock_seller_id,
        stock_sale.stock_unit_price,
        stock_sale.stock_quantity_sold,
        coalesce(stock_movements.stock_quantity_used, 0) as stock_quantity_used,
        coalesce(stock_movements.stock_quantity_returned, 0) as stock_quantity_returned,
        coalesce(stock_movements.stock_quantity_adjusted, 0) as stock_quantity_adjusted
    from items
    left join products
        on items.catalog_number = products.catalog_number
    left join current_custody
        on items.item_id = current_custody.item_id
    left join deactivations
        on items.item_id = deactivations.item_id
    left join remaining
        on items.item_id = remaining.item_id
    left join stock_sale
        on items.item_id = stock_sale.item_id
    left join stock_movements
        on items.item_id = stock_movements.item_id

),

final as (

    select
        *,
        case
            when not is_facility_stock then null
            when is_active then 'ON_HAND'
            else deactivation_reason
        end as stock_status,
        case
            when
                is_facility_stock and is_active
                and stock_quantity_sold - stock_quantity_used - stock_quantity_returned
                - stock_quantity_adjusted > 0
                then
                    stock_quantity_sold - stock_quantity_used - stock_quantity_returned
                    - stock_quantity_adjusted
            else 0
        end as stock_quantity_on_hand,
        {{ through_file_id() }} as _through_file_id
    from joined

)

select * from final

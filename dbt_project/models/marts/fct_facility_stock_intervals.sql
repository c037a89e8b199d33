{#- Facility stock over time: one row per item and state while it is on hand (R-7, R-11,
    R-12, R-13), valid from the line that set it (inclusive) until the next line of the item
    (exclusive; null while it is still the item's state). The stock on hand at instant t is
    `valid_from <= t and (valid_to is null or t < valid_to)`: every line at t is applied, as
    everywhere else. Lines at the same instant leave only the state after the last of them.
    At the reference instant this is fct_facility_stock's on-hand rows (singular test
    assert_as_of_views_match_now). -#}
with

line_sequence as (

    select * from {{ ref('int_item_line_sequence') }}

),

item_lifecycle as (

    select * from {{ ref('int_item_lifecycle') }}

),

states as (

    select
        item_id,
        item_seq,
        line_at as valid_from,
        lead(line_at) over (
            partition by item_id
            order by item_seq
        ) as valid_to,
        -- the item's state after this line: still active, facility stock, quantity left
        is_item_active and not is_deactivating_line as is_active_after,
        is_facility_stock_sale or is_facility_stock as is_stock_after,
        quantity_left_after,
        -- the stocking order in force: this line when it is one, else the latest before it
        case when is_facility_stock_sale then event_id else stock_event_id end
            as stocking_order_id,
        case when is_facility_stock_sale then line_no else stock_line_no end
            as stocking_order_line_no,
        case when is_facility_stock_sale then facility_id else stock_facility_id end
            as facility_id,
        case when is_facility_stock_sale then representative_id else stock_seller_id end
            as seller_id,
        case when is_facility_stock_sale then unit_price else stock_unit_price end
            as unit_price,
        case when is_facility_stock_sale then line_at else stock_sold_at end as sold_at
    from line_sequence

),

on_hand as (

    select * from states
    where
        is_active_after
        and is_stock_after
        and quantity_left_after > 0
        and (valid_to is null or valid_from < valid_to)

),

final as (

    select
        {{ dbt.concat(['on_hand.item_id', "'#'", 'cast(on_hand.item_seq as ' ~ dbt.type_string() ~ ')']) }}
            as stock_interval_id,
        on_hand.item_id,
        on_hand.facility_id,
        on_hand.seller_id,
        item_lifecycle.catalog_number,
        item_lifecycle.lot_number,
        item_lifecycle.serial_number,
        item_lifecycle.expiration_date,
        on_hand.stocking_order_id,
        on_hand.stocking_order_line_no,
        on_hand.sold_at,
        cast(on_hand.quantity_left_after as {{ dbt.type_bigint() }}) as quantity_on_hand,
        cast(on_hand.unit_price as {{ money_type() }}) as unit_price,
        {{ to_money('on_hand.quantity_left_after * on_hand.unit_price') }} as value_on_hand,
        on_hand.valid_from,
        on_hand.valid_to
    from on_hand
    inner join item_lifecycle
        on on_hand.item_id = item_lifecycle.item_id

)

select * from final

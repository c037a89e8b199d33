with

item_lifecycle as (

    select * from {{ ref('int_item_lifecycle') }}

),

final as (

    select
        item_id,
        catalog_number,
        lot_number,
        serial_number,
        expiration_date,
        stock_facility_id as facility_id,
        stock_seller_id as seller_id,
        custodian_id,
        stock_event_id as stocking_order_id,
        stock_line_no as stocking_order_line_no,
        stock_sold_at as sold_at,
        cast(stock_quantity_sold as {{ dbt.type_bigint() }}) as quantity_sold,
        cast(stock_quantity_used as {{ dbt.type_bigint() }}) as quantity_used,
        cast(stock_quantity_returned as {{ dbt.type_bigint() }}) as quantity_returned,
        cast(stock_quantity_adjusted as {{ dbt.type_bigint() }}) as quantity_adjusted,
        cast(stock_quantity_on_hand as {{ dbt.type_bigint() }}) as quantity_on_hand,
        cast(stock_unit_price as {{ money_type() }}) as unit_price,
        {{ to_money('stock_quantity_on_hand * stock_unit_price') }} as value_on_hand,
        stock_status as status,
        deactivated_at
    from item_lifecycle
    where is_facility_stock

)

select * from final

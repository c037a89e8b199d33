with

event_line_states as (

    select * from {{ ref('int_event_line_states') }}

),

final as (

    select
        event_line_id,
        event_id,
        line_no,
        event_type,
        event_status,
        event_date,
        submitted_at,
        line_at,
        facility_id,
        representative_id,
        item_id,
        catalog_number,
        quantity,
        usage_status,
        usage_class,
        is_facility_stock,
        stock_facility_id,
        stock_seller_id,
        stock_event_id,
        cast(stock_unit_price as {{ money_type() }}) as stock_unit_price,
        access_path,
        custodian_at_use,
        is_item_active,
        cast(unit_price as {{ money_type() }}) as unit_price,
        no_charge,
        cast(expected_amount as {{ money_type() }}) as expected_amount,
        cast(billed_amount as {{ money_type() }}) as billed_amount
    from event_line_states

)

select * from final

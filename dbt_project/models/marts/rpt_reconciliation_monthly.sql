{#- Billed against expected revenue per month (of the line's instant) and event facility.
    Built from submitted event lines only. -#}
with

event_lines as (

    select * from {{ ref('fct_event_lines') }}

),

submitted_lines as (

    select
        {{ month_start('line_at') }} as month,  -- noqa: RF04
        event_lines.*
    from event_lines
    where usage_class <> 'NOT_SUBMITTED'

),

monthly as (

    select
        month,
        facility_id,
        sum(case
            when usage_class = 'SALE' and event_type = 'STOCKING_ORDER'
                then expected_amount
            else 0
        end) as stocking_order_revenue,
        sum(case
            when usage_class = 'SALE' and event_type = 'CASE'
                then expected_amount
            else 0
        end) as case_sale_revenue,
        sum(expected_amount) as expected_revenue,
        sum(billed_amount) as billed_revenue,
        sum(case
            when usage_class = 'NON_SALE_FACILITY_STOCK' and billed_amount > 0
                then billed_amount
            else 0
        end) as double_billed_amount,
        sum(case
            when usage_class = 'SALE' and billed_amount = 0
                then expected_amount
            else 0
        end) as unbilled_amount,
        sum(case
            when usage_class = 'NON_SALE_FACILITY_STOCK'
                then quantity
            else 0
        end) as non_sale_units,
        sum(case
            when usage_class = 'NON_SALE_FACILITY_STOCK'
                then coalesce(stock_unit_price, 0) * quantity
            else 0
        end) as non_sale_value,
        sum(case
            when
                event_type = 'RETURN' and usage_class = 'NON_SALE_EVENT'
                and is_facility_stock and is_item_active
                then coalesce(stock_unit_price, 0) * quantity
            else 0
        end) as returned_value
    from submitted_lines
    group by month, facility_id

),

final as (

    select
        cast(month as date) as month,  -- noqa: RF04
        facility_id,
        {{ to_money('stocking_order_revenue') }} as stocking_order_revenue,
        {{ to_money('case_sale_revenue') }} as case_sale_revenue,
        {{ to_money('expected_revenue') }} as expected_revenue,
        {{ to_money('billed_revenue') }} as billed_revenue,
        {{ to_money('double_billed_amount') }} as double_billed_amount,
        {{ to_money('unbilled_amount') }} as unbilled_amount,
        cast(non_sale_units as {{ dbt.type_bigint() }}) as non_sale_units,
        {{ to_money('non_sale_value') }} as non_sale_value,
        {{ to_money('returned_value') }} as returned_value
    from monthly

)

select * from final

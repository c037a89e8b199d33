{#- Non-sale facility-stock usage per month (of the case), facility and representative: what
    the non-sale page charts, read without aggregating every usage line at each page load.
    A line's value is its quantity at the stocking-order unit_price, as in fct_non_sale_usage. -#}
with

non_sale_usage as (

    select * from {{ ref('fct_non_sale_usage') }}

),

dated_usage as (

    select
        {{ month_start('event_date') }} as month,  -- noqa: RF04
        non_sale_usage.*
    from non_sale_usage

),

monthly as (

    select
        month,
        facility_id,
        representative_id,
        sum(quantity) as units,
        sum(quantity * unit_price) as stock_value,
        count(*) as line_count
    from dated_usage
    group by month, facility_id, representative_id

),

final as (

    select
        month,
        facility_id,
        representative_id,
        cast(units as {{ dbt.type_bigint() }}) as units,
        cast(stock_value as {{ money_type() }}) as stock_value,
        cast(line_count as {{ dbt.type_bigint() }}) as line_count
    from monthly

)

select * from final

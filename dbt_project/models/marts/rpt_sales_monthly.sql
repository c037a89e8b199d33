{#- The sales ledger per month (of the sale) and representative: what the sales page charts,
    read without aggregating every ledger line at each page load. -#}
with

sales as (

    select * from {{ ref('fct_sales') }}

),

dated_sales as (

    select
        {{ month_start('sold_at') }} as month,  -- noqa: RF04
        sales.*
    from sales

),

monthly as (

    select
        month,
        representative_id,
        count(*) as line_count,
        sum(quantity) as units,
        sum(amount) as amount,
        sum(commission_amount) as commission_amount
    from dated_sales
    group by month, representative_id

),

final as (

    select
        month,
        representative_id,
        cast(line_count as {{ dbt.type_bigint() }}) as line_count,
        cast(units as {{ dbt.type_bigint() }}) as units,
        cast(amount as {{ money_type() }}) as amount,
        cast(commission_amount as {{ money_type() }}) as commission_amount
    from monthly

)

select * from final

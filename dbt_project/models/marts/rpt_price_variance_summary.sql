{#- Price variance of the sales ledger (fct_price_variance) per facility, representative and
    product line (the line's product version). Lines without a list price count as lines but
    add nothing to the list amount or the variance. -#}
with

price_variance as (

    select * from {{ ref('fct_price_variance') }}

),

keyed as (

    select
        coalesce(facility_id, '(none)') as facility_id,
        coalesce(representative_id, '(none)') as representative_id,
        coalesce(product_line, '(none)') as product_line,
        quantity,
        amount,
        list_amount,
        variance_amount,
        list_price,
        unit_price
    from price_variance

),

summary as (

    select
        facility_id,
        representative_id,
        product_line,
        count(*) as ledger_lines,
        sum(quantity) as quantity,
        sum(amount) as sold_amount,
        sum(coalesce(list_amount, 0)) as list_amount,
        sum(coalesce(variance_amount, 0)) as variance_amount,
        sum(case when unit_price < list_price then 1 else 0 end) as lines_below_list,
        sum(case when list_price is null then 1 else 0 end) as lines_without_list_price
    from keyed
    group by facility_id, representative_id, product_line

),

final as (

    select
        facility_id,
        representative_id,
        product_line,
        cast(ledger_lines as {{ dbt.type_bigint() }}) as ledger_lines,
        cast(quantity as {{ dbt.type_bigint() }}) as quantity,
        cast(sold_amount as {{ money_type() }}) as sold_amount,
        cast(list_amount as {{ money_type() }}) as list_amount,
        cast(variance_amount as {{ money_type() }}) as variance_amount,
        -- the sums as money first: Spark rounds a quotient of two wide (38-digit) decimals
        -- to fewer places than the percent keeps, DuckDB does not
        case
            when list_amount > 0
                then cast(
                    100 * cast(variance_amount as {{ money_type() }})
                    / cast(list_amount as {{ money_type() }})
                    as {{ percent_type() }}
                )
        end as variance_pct,
        cast(lines_below_list as {{ dbt.type_bigint() }}) as lines_below_list,
        cast(lines_without_list_price as {{ dbt.type_bigint() }}) as lines_without_list_price
    from summary

)

select * from final

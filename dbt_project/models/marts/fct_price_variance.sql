{#- Each sales-ledger line (fct_sales) against the product's list price at the line's instant:
    the product version valid at sold_at (valid_from <= sold_at < valid_to). A line sold before
    the product's first version is priced at that first version (basis EARLIEST_VERSION); a line
    whose product is unknown has no list price (basis NO_PRODUCT) and no variance. Our
    reading: docs/rules.md "Price variance". -#}
with

sales as (

    select * from {{ ref('fct_sales') }}

),

price_intervals as (

    select * from {{ ref('int_product_price_intervals') }}

),

version_at_line as (

    select
        sales.event_line_id,
        price_intervals.valid_from,
        price_intervals.product_line,
        price_intervals.list_price
    from sales
    inner join price_intervals
        on
            sales.catalog_number = price_intervals.catalog_number
            and sales.sold_at >= price_intervals.valid_from
            and (price_intervals.valid_to is null or sales.sold_at < price_intervals.valid_to)

),

first_version as (

    select
        catalog_number,
        valid_from,
        product_line,
        list_price
    from price_intervals
    where is_first_version

),

priced as (

    select
        sales.event_line_id,
        sales.event_id,
        sales.line_no,
        sales.item_id,
        sales.event_type,
        sales.sold_at,
        sales.facility_id,
        sales.representative_id,
        sales.catalog_number,
        coalesce(version_at_line.product_line, first_version.product_line) as product_line,
        sales.quantity,
        sales.unit_price,
        coalesce(version_at_line.list_price, first_version.list_price) as list_price,
        coalesce(version_at_line.valid_from, first_version.valid_from) as list_price_valid_from,
        case
            when version_at_line.event_line_id is not null then 'VERSION_AT_LINE'
            when first_version.catalog_number is not null then 'EARLIEST_VERSION'
            else 'NO_PRODUCT'
        end as list_price_basis,
        sales.amount
    from sales
    left join version_at_line
        on sales.event_line_id = version_at_line.event_line_id
    left join first_version
        on sales.catalog_number = first_version.catalog_number

),

final as (

    select
        event_line_id,
        event_id,
        line_no,
        item_id,
        event_type,
        sold_at,
        facility_id,
        representative_id,
        catalog_number,
        product_line,
        quantity,
        unit_price,
        list_price,
        list_price_valid_from,
        list_price_basis,
        amount,
        {{ to_money('list_price * quantity') }} as list_amount,
        cast(unit_price - list_price as {{ money_type() }}) as unit_variance,
        {{ to_money('(unit_price - list_price) * quantity') }} as variance_amount,
        case
            when list_price > 0
                then cast(100 * (unit_price - list_price) / list_price as {{ percent_type() }})
        end as variance_pct
    from priced

)

select * from final

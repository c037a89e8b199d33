with

products as (

    select * from {{ ref('stg_products') }}

),

final as (

    select
        catalog_number,
        product_description,
        product_line,
        tracking,
        is_single_use,
        cast(list_price as {{ money_type() }}) as list_price,
        cast(unit_cost as {{ money_type() }}) as unit_cost,
        updated_at
    from products

)

select * from final

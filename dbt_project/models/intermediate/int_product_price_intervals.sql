{#- The list price of each product over time: each version is valid from its updated_at
    (inclusive) until the next version's (exclusive); the newest version stays valid (valid_to
    null). is_first_version marks the earliest version, which also prices lines sold before
    it (our reading, docs/rules.md "Price variance"). -#}
with

product_versions as (

    select * from {{ ref('stg_product_versions') }}

),

intervals as (

    select
        catalog_number,
        updated_at as valid_from,
        lead(updated_at) over (
            partition by catalog_number
            order by updated_at
        ) as valid_to,
        row_number() over (
            partition by catalog_number
            order by updated_at
        ) as version_no,
        product_line,
        list_price
    from product_versions

),

final as (

    select
        catalog_number,
        valid_from,
        valid_to,
        version_no,
        version_no = 1 as is_first_version,
        product_line,
        list_price
    from intervals

)

select * from final

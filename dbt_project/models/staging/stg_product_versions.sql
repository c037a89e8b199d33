{#- Every version of every product, not only the newest: one row per catalog_number and
    updated_at (the catalog's list price over time, read by int_product_price_intervals). Two
    deliveries of the same key and updated_at: the later delivery wins, as in stg_products. -#}
with

source as (

    {{ newest_version(source('raw', 'products'), ['catalog_number', 'updated_at'],
        '_file_id desc, _row_number desc') }}

),

renamed as (

    select
        trim(catalog_number) as catalog_number,
        updated_at,
        product_line,
        cast(list_price as decimal(18, 2)) as list_price,
        _file_id,
        _source_file,
        _row_number,
        _loaded_at
    from source

),

final as (

    select * from renamed

)

select * from final

with

source as (

    {{ newest_version(source('raw', 'products'), ['catalog_number'],
        'updated_at desc, _file_id desc, _row_number desc') }}

),

renamed as (

    select
        trim(catalog_number) as catalog_number,
        description as product_description,
        product_line,
        upper(trim(tracking)) as tracking,
        is_single_use,
        cast(list_price as decimal(18, 2)) as list_price,
        cast(unit_cost as decimal(18, 2)) as unit_cost,
        updated_at,
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

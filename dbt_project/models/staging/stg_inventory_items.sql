{#- Large entity: an incremental table (config in _stg_models.yml; see the macro
    newest_version_incremental), so each build re-derives only the keys touched by new
    deliveries; `custodia build --full-refresh` rebuilds it from every raw row. -#}
with

source as (

    {{ newest_version_incremental(source('raw', 'inventory_items'), ['item_id'],
        'updated_at desc, _file_id desc, _row_number desc') }}

),

renamed as (

    select
        trim(item_id) as item_id,
        trim(catalog_number) as catalog_number,
        lot_number,
        serial_number,
        cast(quantity as bigint) as quantity,
        expiration_date,
        trim(initial_custodian_id) as initial_custodian_id,
        created_at,
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

{#- Large entity: an incremental table (config in _stg_models.yml; see the macro
    newest_version_incremental), so each build re-derives only the keys touched by new
    deliveries; `custodia build --full-refresh` rebuilds it from every raw row. -#}
with

source as (

    {{ newest_version_incremental(source('raw', 'transfers'), ['transfer_id'],
        'updated_at desc, _file_id desc, _row_number desc') }}

),

renamed as (

    select
        trim(transfer_id) as transfer_id,
        trim(item_id) as item_id,
        trim(from_custodian_id) as from_custodian_id,
        trim(to_custodian_id) as to_custodian_id,
        cast(quantity as bigint) as quantity,
        upper(trim(status)) as transfer_status,
        created_at,
        responded_at,
        updated_at,
        -- precise reading: an ACCEPTED transfer without responded_at moves custody at
        -- updated_at, else created_at
        coalesce(responded_at, updated_at, created_at) as effective_at,
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

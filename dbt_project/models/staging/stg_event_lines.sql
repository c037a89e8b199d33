{#- Large entity: an incremental table (config in _stg_models.yml; see the macro
    newest_version_incremental), so each build re-derives only the keys touched by new
    deliveries; `custodia build --full-refresh` rebuilds it from every raw row. -#}
with

source as (

    {{ newest_version_incremental(source('raw', 'event_lines'), ['event_id', 'line_no'],
        'updated_at desc, _file_id desc, _row_number desc') }}

),

renamed as (

    select
        {{ dbt.concat(["trim(event_id)", "'#'", dbt.safe_cast("line_no", dbt.type_string())]) }}
            as event_line_id,
        trim(event_id) as event_id,
        cast(line_no as bigint) as line_no,
        trim(item_id) as item_id,
        cast(quantity as bigint) as quantity,
        upper(trim(usage_status)) as usage_status,
        upper(trim(usage_status)) in ('USED', 'IMPLANTED', 'IN_OUT', 'DAMAGED_WASTE')
            as is_consuming,
        cast(unit_price as decimal(18, 2)) as unit_price,
        coalesce(no_charge, false) as no_charge,
        cast(coalesce(billed_amount, 0) as decimal(18, 2)) as billed_amount,
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

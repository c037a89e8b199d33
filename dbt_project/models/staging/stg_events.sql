{#- Large entity: an incremental table (config in _stg_models.yml; see the macro
    newest_version_incremental), so each build re-derives only the keys touched by new
    deliveries; `custodia build --full-refresh` rebuilds it from every raw row. -#}
with

source as (

    {{ newest_version_incremental(source('raw', 'events'), ['event_id'],
        'updated_at desc, _file_id desc, _row_number desc') }}

),

renamed as (

    select
        trim(event_id) as event_id,
        upper(trim(event_type)) as event_type,
        trim(representative_id) as representative_id,
        trim(facility_id) as facility_id,
        event_date,
        upper(trim(status)) as event_status,
        submitted_at,
        coalesce(deactivate_on_submit, false) as deactivate_on_submit,
        updated_at,
        -- CLOSED, COMPLETED and PAID are submitted; OPEN and CANCELLED have no effect
        upper(trim(status)) in ('CLOSED', 'COMPLETED', 'PAID') as is_submitted,
        -- the instant the event's lines take effect: event_date for a case, submitted_at
        -- otherwise (inferred: updated_at when a submitted event lacks submitted_at)
        case
            when upper(trim(event_type)) = 'CASE' then event_date
            else coalesce(submitted_at, updated_at)
        end as effective_at,
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

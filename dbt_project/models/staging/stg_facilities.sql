with

source as (

    {{ newest_version(source('raw', 'facilities'), ['facility_id'],
        'updated_at desc, _file_id desc, _row_number desc') }}

),

renamed as (

    select
        trim(facility_id) as facility_id,
        name as facility_name,
        state,
        coalesce(contract_complete, false) as contract_complete,
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

with

source as (

    {{ newest_version(source('raw', 'users'), ['user_id'],
        'updated_at desc, _file_id desc, _row_number desc') }}

),

renamed as (

    select
        trim(user_id) as user_id,
        email,
        full_name,
        upper(trim(role)) as role,  -- noqa: RF04
        coalesce(is_custodian_only, false) as is_custodian_only,
        coalesce(is_active, true) as is_active,
        cast(commission_rate as decimal(9, 4)) as commission_rate,
        region,
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

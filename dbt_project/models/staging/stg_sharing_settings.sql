with

source as (

    {#- no updated_at on this entity: the later delivery wins -#}
    {{ newest_version(source('raw', 'sharing_settings'),
        ['distributor_user_id', 'effective_at'],
        '_file_id desc, _row_number desc') }}

),

renamed as (

    select
        {{ dbt.concat(["trim(distributor_user_id)", "'|'",
            dbt.safe_cast("effective_at", dbt.type_string())]) }} as sharing_setting_id,
        trim(distributor_user_id) as distributor_user_id,
        sharing_enabled,
        effective_at,
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

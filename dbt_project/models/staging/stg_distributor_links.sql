with

source as (

    {{ newest_version(source('raw', 'distributor_links'),
        ['distributor_user_id', 'sales_user_id', 'linked_at'],
        'updated_at desc, _file_id desc, _row_number desc') }}

),

renamed as (

    select
        {{ dbt.concat(["trim(distributor_user_id)", "'|'", "trim(sales_user_id)", "'|'",
            dbt.safe_cast("linked_at", dbt.type_string())]) }} as link_id,
        trim(distributor_user_id) as distributor_user_id,
        trim(sales_user_id) as sales_user_id,
        linked_at,
        unlinked_at,
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

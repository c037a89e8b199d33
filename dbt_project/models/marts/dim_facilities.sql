with

facilities as (

    select * from {{ ref('stg_facilities') }}

),

final as (

    select
        facility_id,
        facility_name,
        state,
        contract_complete,
        updated_at
    from facilities

)

select * from final

with

sharing_settings as (

    select * from {{ ref('stg_sharing_settings') }}

),

intervals as (

    select
        sharing_setting_id,
        distributor_user_id,
        sharing_enabled,
        effective_at as valid_from,
        lead(effective_at) over (
            partition by distributor_user_id
            order by effective_at
        ) as valid_to
    from sharing_settings

),

final as (

    select * from intervals

)

select * from final

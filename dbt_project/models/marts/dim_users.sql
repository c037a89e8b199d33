with

users as (

    select * from {{ ref('stg_users') }}

),

final as (

    select
        user_id,
        email,
        full_name,
        role,
        is_custodian_only,
        is_active,
        cast(commission_rate as decimal(9, 4)) as commission_rate,
        region,
        role in ('SALES', 'DISTRIBUTOR') as can_hold_inventory,
        role in ('PRIMARY_ADMIN', 'ADMIN', 'OPERATIONS') as is_admin,
        created_at,
        updated_at
    from users

)

select * from final

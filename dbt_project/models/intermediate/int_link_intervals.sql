with

distributor_links as (

    select * from {{ ref('stg_distributor_links') }}

),

users as (

    select * from {{ ref('stg_users') }}

),

joined as (

    select
        distributor_links.link_id,
        distributor_links.distributor_user_id,
        distributor_links.sales_user_id,
        distributor_links.linked_at,
        distributor_links.unlinked_at,
        distributor.role as distributor_role,
        sales.role as sales_role,
        distributor.user_id is not null as is_distributor_known,
        sales.user_id is not null as is_sales_user_known,
        -- R-4: a sharing relationship exists only between a DISTRIBUTOR and a SALES user
        coalesce(distributor.role = 'DISTRIBUTOR' and sales.role = 'SALES', false)
            as has_valid_roles
    from distributor_links
    left join users as distributor
        on distributor_links.distributor_user_id = distributor.user_id
    left join users as sales
        on distributor_links.sales_user_id = sales.user_id

),

final as (

    select * from joined

)

select * from final

{#- On-hand facility stock per facility and catalog number, as of the build's reference
    instant, with who may use it. -#}
with

facility_stock as (

    select * from {{ ref('fct_facility_stock') }}

),

stock_access as (

    select * from {{ ref('fct_facility_stock_access') }}

),

reference_instant as (

    select * from {{ ref('int_reference_instant') }}

),

on_hand as (

    select facility_stock.*
    from facility_stock
    where
        status = 'ON_HAND'
        and quantity_on_hand > 0

),

levels as (

    select
        on_hand.facility_id,
        on_hand.catalog_number,
        sum(on_hand.quantity_on_hand) as quantity_on_hand,
        sum(on_hand.value_on_hand) as value_on_hand,
        count(*) as items,
        min(on_hand.sold_at) as oldest_sold_at,
        min(on_hand.expiration_date) as next_expiration,
        sum(case
            when on_hand.expiration_date <= cast({{ dbt.dateadd('day',
                var('expiring_window_days'), 'reference_instant.as_of') }} as date)
                then on_hand.quantity_on_hand
            else 0
        end) as quantity_expiring_90d
    from on_hand
    cross join reference_instant
    group by on_hand.facility_id, on_hand.catalog_number

),

eligible as (

    select
        on_hand.facility_id,
        on_hand.catalog_number,
        count(distinct stock_access.user_id) as eligible_users,
        {{ ordered_id_list('stock_access.user_id') }} as eligible_user_ids
    from on_hand
    inner join stock_access
        on on_hand.item_id = stock_access.item_id
    group by on_hand.facility_id, on_hand.catalog_number

),

final as (

    select
        levels.facility_id,
        levels.catalog_number,
        cast(levels.quantity_on_hand as {{ dbt.type_bigint() }}) as quantity_on_hand,
        cast(levels.value_on_hand as {{ money_type() }}) as value_on_hand,
        cast(levels.items as {{ dbt.type_bigint() }}) as items,
        levels.oldest_sold_at,
        levels.next_expiration,
        cast(levels.quantity_expiring_90d as {{ dbt.type_bigint() }}) as quantity_expiring_90d,
        cast(coalesce(eligible.eligible_users, 0) as {{ dbt.type_bigint() }}) as eligible_users,
        eligible.eligible_user_ids
    from levels
    left join eligible
        on
            levels.facility_id = eligible.facility_id
            and levels.catalog_number = eligible.catalog_number

)

select * from final

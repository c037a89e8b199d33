{#- Who may use each on-hand facility-stock item now (the build's reference instant), and
    by which path, judged against the seller (R-10, R-13). Admins reach everything and are
    left out. -#}
with

facility_stock as (

    select * from {{ ref('fct_facility_stock') }}

),

reference_instant as (

    select * from {{ ref('int_reference_instant') }}

),

users as (

    select * from {{ ref('stg_users') }}

),

link_intervals as (

    select * from {{ ref('int_link_intervals') }}

),

sharing_intervals as (

    select * from {{ ref('int_sharing_intervals') }}

),

on_hand as (

    select * from facility_stock
    where
        status = 'ON_HAND'
        and quantity_on_hand > 0

),

requests as (

    select
        {{ dbt.concat(['on_hand.item_id', "'|'", 'users.user_id']) }} as request_id,
        on_hand.item_id,
        on_hand.facility_id,
        on_hand.seller_id,
        users.user_id as actor_id,
        on_hand.seller_id as target_id,
        reference_instant.as_of as checked_at
    from on_hand
    cross join users
    cross join reference_instant
    -- admins reach everything (R-5 ADMIN) and are left out
    where users.role not in ('PRIMARY_ADMIN', 'ADMIN', 'OPERATIONS')

),

candidates as (

    {{ access_path_candidates('requests', 'users', 'link_intervals', 'sharing_intervals') }}

),

best_path as (

    select
        request_id,
        min(path_rank) as path_rank
    from candidates
    group by request_id

),

final as (

    select
        requests.item_id,
        requests.facility_id,
        requests.actor_id as user_id,
        {{ access_path_name('best_path.path_rank') }} as access_path,
        requests.seller_id,
        requests.checked_at as as_of
    from requests
    inner join best_path
        on requests.request_id = best_path.request_id
    where best_path.path_rank < 4

)

select * from final

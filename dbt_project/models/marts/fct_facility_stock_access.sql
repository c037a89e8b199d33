{#- Who may use each on-hand facility-stock item now (the build's reference instant), and
    by which path, judged against the seller (R-10, R-13). Admins reach everything and are
    left out; so are custodian-only users, who hold custody but never act (docs/rules.md,
    CUSTODIAN_ONLY_REP): our reading, docs/rules.md "Readings that are our own". -#}
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

sellers as (

    select distinct seller_id from on_hand

),

-- Only the seller and the users linked to the seller (in either direction, at any time) can
-- have a path (R-5: OWN needs U = C, the distributor paths need a link between U and C); the
-- macro then checks roles, link validity and sharing at the instant. Asking for these
-- candidates instead of every user gives the same rows without an items x users product.
seller_partners as (

    select
        seller_id,
        seller_id as partner_id
    from sellers

    union

    select
        sellers.seller_id,
        link_intervals.sales_user_id as partner_id
    from sellers
    inner join link_intervals
        on sellers.seller_id = link_intervals.distributor_user_id

    union

    select
        sellers.seller_id,
        link_intervals.distributor_user_id as partner_id
    from sellers
    inner join link_intervals
        on sellers.seller_id = link_intervals.sales_user_id

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
    inner join seller_partners
        on on_hand.seller_id = seller_partners.seller_id
    inner join users
        on seller_partners.partner_id = users.user_id
    cross join reference_instant
    where
        -- admins reach everything (R-5 ADMIN) and are left out
        users.role not in ('PRIMARY_ADMIN', 'ADMIN', 'OPERATIONS')
        -- custodian-only accounts never act, so they use nothing, whatever the path (inference:
        -- delete this condition to list them with their OWN / DISTRIBUTOR_SHARE rows again)
        and not users.is_custodian_only

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

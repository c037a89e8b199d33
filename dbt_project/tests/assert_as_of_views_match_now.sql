{#- At the reference instant the point-in-time views equal the "now" marts: stock levels
    (rpt_stock_levels_as_of vs rpt_stock_levels, every column) and access
    (fct_facility_stock_access_as_of vs fct_facility_stock_access). Checked when neither var
    as_of nor custodia_as_of is set (the "now" marts judge access at a pinned custodia_as_of
    but stock after every line). Returns the rows found on one side only. Shown in Dagster as
    an asset check of rpt_stock_levels_as_of. -#}
{{ config(meta={'dagster': {'ref': {'name': 'rpt_stock_levels_as_of'}}}) }}
{% if as_of_requested() is none and not var('custodia_as_of', none) %}

with

levels_now as (

    select
        facility_id, catalog_number, quantity_on_hand, value_on_hand, items, oldest_sold_at,
        next_expiration, quantity_expiring_90d, eligible_users, eligible_user_ids
    from {{ ref('rpt_stock_levels') }}

),

levels_as_of as (

    select
        facility_id, catalog_number, quantity_on_hand, value_on_hand, items, oldest_sold_at,
        next_expiration, quantity_expiring_90d, eligible_users, eligible_user_ids
    from {{ ref('rpt_stock_levels_as_of') }}

),

access_now as (

    select item_id, facility_id, user_id, access_path, seller_id, as_of
    from {{ ref('fct_facility_stock_access') }}

),

access_as_of as (

    select item_id, facility_id, user_id, access_path, seller_id, as_of
    from {{ ref('fct_facility_stock_access_as_of') }}

),

final as (

    select 'rpt_stock_levels only' as side, facility_id as key_1, catalog_number as key_2
    from (select * from levels_now {{ dbt.except() }} select * from levels_as_of) as a

    union all

    select 'rpt_stock_levels_as_of only', facility_id, catalog_number
    from (select * from levels_as_of {{ dbt.except() }} select * from levels_now) as b

    union all

    select 'fct_facility_stock_access only', item_id, user_id
    from (select * from access_now {{ dbt.except() }} select * from access_as_of) as c

    union all

    select 'fct_facility_stock_access_as_of only', item_id, user_id
    from (select * from access_as_of {{ dbt.except() }} select * from access_now) as d

)

select * from final

{% else %}

    select 'checked only without vars' as side
    where 1 = 0

{% endif %}

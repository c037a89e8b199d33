{#- The build's reference instant ("now" for access, status and expiry windows).
    Data-derived so that a rebuild of the same deliveries gives the same marts: the latest
    business timestamp in any staged table (load times excluded). Override with the
    `custodia_as_of` var. first_seen_at is the earliest one (the start of the data, before
    which point-in-time views refuse to answer). -#}
with

users as (

    select * from {{ ref('stg_users') }}

),

distributor_links as (

    select * from {{ ref('stg_distributor_links') }}

),

sharing_settings as (

    select * from {{ ref('stg_sharing_settings') }}

),

facilities as (

    select * from {{ ref('stg_facilities') }}

),

products as (

    select * from {{ ref('stg_products') }}

),

inventory_items as (

    select * from {{ ref('stg_inventory_items') }}

),

transfers as (

    select * from {{ ref('stg_transfers') }}

),

events as (

    select * from {{ ref('stg_events') }}

),

event_lines as (

    select * from {{ ref('stg_event_lines') }}

),

timestamps as (

    select max(updated_at) as seen_at from users
    union all
    select max(created_at) from users
    union all
    select max(updated_at) from distributor_links
    union all
    select max(linked_at) from distributor_links
    union all
    select max(unlinked_at) from distributor_links
    union all
    select max(effective_at) from sharing_settings
    union all
    select max(updated_at) from facilities
    union all
    select max(updated_at) from products
    union all
    select max(updated_at) from inventory_items
    union all
    select max(created_at) from inventory_items
    union all
    select max(updated_at) from transfers
    union all
    select max(created_at) from transfers
    union all
    select max(responded_at) from transfers
    union all
    select max(updated_at) from events
    union all
    select max(event_date) from events
    union all
    select max(submitted_at) from events
    union all
    select max(updated_at) from event_lines

),

-- the earliest business timestamps: point-in-time views refuse an instant before them
first_timestamps as (

    select min(updated_at) as first_at from users
    union all
    select min(created_at) from users
    union all
    select min(updated_at) from distributor_links
    union all
    select min(linked_at) from distributor_links
    union all
    select min(unlinked_at) from distributor_links
    union all
    select min(effective_at) from sharing_settings
    union all
    select min(updated_at) from facilities
    union all
    select min(updated_at) from products
    union all
    select min(updated_at) from inventory_items
    union all
    select min(created_at) from inventory_items
    union all
    select min(updated_at) from transfers
    union all
    select min(created_at) from transfers
    union all
    select min(responded_at) from transfers
    union all
    select min(updated_at) from events
    union all
    select min(event_date) from events
    union all
    select min(submitted_at) from events
    union all
    select min(updated_at) from event_lines

),

final as (

    select
        1 as reference_id,
        {% if var('custodia_as_of', none) %}
            cast('{{ var("custodia_as_of") }}' as {{ dbt.type_timestamp() }}) as as_of,
        {% else %}
            coalesce(
                max(seen_at),
                cast('1970-01-01 00:00:00' as {{ dbt.type_timestamp() }})
            ) as as_of,
        {% endif %}
        {% if var('custodia_as_of', none) %}'var custodia_as_of'{% else %}'latest timestamp in the data'{% endif %}
            as as_of_source,
        min(first_timestamps.first_at) as first_seen_at
    from timestamps
    cross join first_timestamps

)

select * from final

{#- The items and users whose derived rows a build must re-derive: those named by staged rows
    newer than the watermark (macros/item_incremental.sql). Empty when the watermark is null:
    then no tagged model is incremental and everything is derived.

    Items: every item of a new transfer, event line or item version; every item on a line of
    an event with a new version (a status change submits or cancels all its lines); every item
    of a product with a new version (is_single_use); and the item a re-delivered transfer or
    line named before, read from the previous build's tables (a line edited to another item
    changes both items' lives). Users: every user of a new user, link or sharing version;
    their access paths change, so the event lines they act on or hold are re-derived. -#}
with

watermark as (

    select previous_through_file_id as since from {{ ref('int_delivery_watermark') }}

),

transfers as (

    select * from {{ ref('stg_transfers') }}

),

event_lines as (

    select * from {{ ref('stg_event_lines') }}

),

events as (

    select * from {{ ref('stg_events') }}

),

inventory_items as (

    select * from {{ ref('stg_inventory_items') }}

),

products as (

    select * from {{ ref('stg_products') }}

),

users as (

    select * from {{ ref('stg_users') }}

),

links as (

    select * from {{ ref('stg_distributor_links') }}

),

sharing as (

    select * from {{ ref('stg_sharing_settings') }}

),

new_transfers as (

    select
        transfers.transfer_id,
        transfers.item_id
    from transfers
    inner join watermark on transfers._file_id > watermark.since

),

new_lines as (

    select
        event_lines.event_line_id,
        event_lines.item_id
    from event_lines
    inner join watermark on event_lines._file_id > watermark.since

),

touched_items as (

    {%- set previous_lines = previous_state('int_event_lines') %}
    {%- set previous_transfers = previous_state('int_transfer_states') %}
    select item_id from new_transfers
    union all
    select item_id from new_lines
    union all
    select inventory_items.item_id
    from inventory_items
    inner join watermark on inventory_items._file_id > watermark.since
    union all
    select event_lines.item_id
    from event_lines
    inner join events on event_lines.event_id = events.event_id
    inner join watermark on events._file_id > watermark.since
    union all
    select inventory_items.item_id
    from inventory_items
    inner join products on inventory_items.catalog_number = products.catalog_number
    inner join watermark on products._file_id > watermark.since
    {%- if previous_transfers is not none %}
        union all
        select previous_transfers.item_id
        from {{ previous_transfers }} as previous_transfers
        inner join new_transfers on previous_transfers.transfer_id = new_transfers.transfer_id
    {%- endif %}
    {%- if previous_lines is not none %}
        union all
        select previous_lines.item_id
        from {{ previous_lines }} as previous_lines
        inner join new_lines on previous_lines.event_line_id = new_lines.event_line_id
    {%- endif %}

),

touched_users as (

    select users.user_id
    from users
    inner join watermark on users._file_id > watermark.since
    union all
    select links.distributor_user_id
    from links
    inner join watermark on links._file_id > watermark.since
    union all
    select links.sales_user_id
    from links
    inner join watermark on links._file_id > watermark.since
    union all
    select sharing.distributor_user_id
    from sharing
    inner join watermark on sharing._file_id > watermark.since

),

final as (

    select distinct
        cast('item' as {{ dbt.type_string() }}) as touched_kind,
        item_id as touched_id
    from touched_items
    where item_id is not null
    union all
    select distinct
        cast('user' as {{ dbt.type_string() }}) as touched_kind,
        user_id as touched_id
    from touched_users
    where user_id is not null

)

select * from final

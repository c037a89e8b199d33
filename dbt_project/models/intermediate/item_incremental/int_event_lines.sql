{#- Every staged event line with its event, item and product attributes. Lines naming an
    unknown event or item are kept here (flags) and only surface as UNKNOWN_REFERENCE.
    Item-grained incremental (macros/item_incremental.sql): a build re-derives the lines of
    the items new deliveries touch. -#}
-- depends_on: {{ ref('int_touched_entities') }}
with

event_lines as (

    select * from {{ ref('stg_event_lines') }}
    where {{ only_touched('item_id') }}

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

joined as (

    select
        event_lines.event_line_id,
        event_lines.event_id,
        event_lines.line_no,
        event_lines.item_id,
        event_lines.quantity,
        event_lines.usage_status,
        event_lines.is_consuming,
        event_lines.unit_price,
        event_lines.no_charge,
        event_lines.billed_amount,
        event_lines.updated_at,
        events.event_id is not null as is_event_known,
        inventory_items.item_id is not null as is_item_known,
        events.event_type,
        events.event_status,
        events.representative_id,
        events.facility_id,
        events.event_date,
        events.submitted_at,
        events.deactivate_on_submit,
        coalesce(events.is_submitted, false) as is_submitted,
        events.effective_at as line_at,
        inventory_items.catalog_number,
        inventory_items.quantity as item_quantity,
        inventory_items.expiration_date,
        inventory_items.created_at as item_created_at,
        -- inferred: an item whose product is unknown is treated as single-use
        coalesce(products.is_single_use, true) as is_single_use,
        {{ through_file_id() }} as _through_file_id
    from event_lines
    left join events
        on event_lines.event_id = events.event_id
    left join inventory_items
        on event_lines.item_id = inventory_items.item_id
    left join products
        on inventory_items.catalog_number = products.catalog_number

),

final as (

    select * from joined

)

select * from final

{#- One row: the newest delivery staged now (through_file_id) and the one every item-grained
    incremental model was derived through before this build (previous_through_file_id; null
    when everything is derived). See macros/item_incremental.sql. -#}
with

staged as (

    {%- for model in ['stg_distributor_links', 'stg_event_lines', 'stg_events',
            'stg_facilities', 'stg_inventory_items', 'stg_products', 'stg_sharing_settings',
            'stg_transfers', 'stg_users'] %}
        select max(_file_id) as file_id from {{ ref(model) }}
        {%- if not loop.last %}
            union all{% endif %}
    {%- endfor %}

),

final as (

    select
        1 as watermark_id,
        max(file_id) as through_file_id,
        {{ item_incremental_watermark() }} as previous_through_file_id
    from staged

)

select * from final

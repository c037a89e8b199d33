-- On-hand and remaining quantities are never negative, anywhere they are reported.
-- Shown in Dagster as an asset check of fct_facility_stock.
{{ config(meta={'dagster': {'ref': {'name': 'fct_facility_stock'}}}) }}
with

facility_stock as (

    select * from {{ ref('fct_facility_stock') }}

),

inventory_status as (

    select * from {{ ref('fct_inventory_status') }}

),

stock_levels as (

    select * from {{ ref('rpt_stock_levels') }}

),

line_sequence as (

    select * from {{ ref('int_item_line_sequence') }}

),

final as (

    select
        'fct_facility_stock' as model_name,
        item_id as record_key,
        quantity_on_hand as quantity
    from facility_stock
    where quantity_on_hand < 0 or value_on_hand < 0

    union all

    select
        'fct_inventory_status' as model_name,
        item_id as record_key,
        quantity_remaining as quantity
    from inventory_status
    where quantity_remaining < 0

    union all

    select
        'rpt_stock_levels' as model_name,
        {{ dbt.concat(['facility_id', "'|'", 'catalog_number']) }} as record_key,
        quantity_on_hand as quantity
    from stock_levels
    where quantity_on_hand < 0 or quantity_expiring_90d < 0

    union all

    select
        'int_item_line_sequence' as model_name,
        event_line_id as record_key,
        quantity_left_after as quantity
    from line_sequence
    where quantity_left_after < 0

)

select * from final

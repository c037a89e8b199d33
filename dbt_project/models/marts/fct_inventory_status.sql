with

item_lifecycle as (

    select * from {{ ref('int_item_lifecycle') }}

),

reference_instant as (

    select * from {{ ref('int_reference_instant') }}

),

final as (

    select
        item_lifecycle.item_id,
        item_lifecycle.catalog_number,
        item_lifecycle.lot_number,
        item_lifecycle.serial_number,
        item_lifecycle.expiration_date,
        item_lifecycle.custodian_id,
        item_lifecycle.is_active,
        item_lifecycle.is_facility_stock,
        item_lifecycle.stock_facility_id as facility_id,
        item_lifecycle.stock_seller_id as seller_id,
        item_lifecycle.item_quantity as quantity,
        cast(item_lifecycle.quantity_remaining as {{ dbt.type_bigint() }}) as quantity_remaining,
        item_lifecycle.deactivated_at,
        item_lifecycle.deactivation_reason,
        item_lifecycle.deactivated_by_event_id,
        reference_instant.as_of
    from item_lifecycle
    cross join reference_instant

)

select * from final

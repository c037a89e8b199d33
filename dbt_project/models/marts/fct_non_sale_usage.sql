{#- Non-sale usage (R-11): the case lines that consumed facility stock, each with the
    facility-stock record of its item (fct_facility_stock: the stocking order, seller, sale
    date and price it came from, and the item's catalog, lot and serial numbers). One narrow
    table for the dashboard's non-sale page, which sums, splits and lists these lines; it would
    otherwise join every such line of fct_event_lines to fct_facility_stock on each view. -#}
with

event_lines as (

    select * from {{ ref('fct_event_lines') }}

),

facility_stock as (

    select * from {{ ref('fct_facility_stock') }}

),

final as (

    select
        event_lines.event_line_id,
        event_lines.event_id,
        event_lines.line_no,
        event_lines.event_date,
        event_lines.facility_id,
        event_lines.representative_id,
        event_lines.item_id,
        facility_stock.catalog_number,
        facility_stock.lot_number,
        facility_stock.serial_number,
        facility_stock.stocking_order_id,
        facility_stock.seller_id,
        facility_stock.sold_at,
        event_lines.quantity,
        facility_stock.unit_price,
        event_lines.access_path,
        event_lines.custodian_at_use,
        event_lines.billed_amount
    from event_lines
    left join facility_stock
        on event_lines.item_id = facility_stock.item_id
    where event_lines.usage_class = 'NON_SALE_FACILITY_STOCK'

)

select * from final

-- R-11, R-16: facility-stock usage is non-sale and never reaches the sales ledger; only
-- stocking-order and case lines do.
-- Shown in Dagster as an asset check of fct_sales.
{{ config(meta={'dagster': {'ref': {'name': 'fct_sales'}}}) }}
with

sales as (

    select * from {{ ref('fct_sales') }}

),

event_lines as (

    select * from {{ ref('fct_event_lines') }}

),

final as (

    select
        sales.event_id,
        sales.line_no,
        event_lines.usage_class,
        sales.event_type
    from sales
    inner join event_lines
        on
            sales.event_id = event_lines.event_id
            and sales.line_no = event_lines.line_no
    where
        event_lines.usage_class <> 'SALE'
        or (sales.event_type = 'CASE' and event_lines.is_facility_stock)
        or sales.event_type not in ('CASE', 'STOCKING_ORDER')

)

select * from final

-- R-16: the sales ledger total equals the expected amounts of submitted stocking-order lines
-- (not no-charge) plus sale lines of submitted cases, recomputed here from the enriched lines
-- independently of the classification. Returns a row when they differ.
-- Shown in Dagster as an asset check of fct_sales.
{{ config(meta={'dagster': {'ref': {'name': 'fct_sales'}}}) }}
with

sales as (

    select * from {{ ref('fct_sales') }}

),

event_line_states as (

    select * from {{ ref('int_event_line_states') }}

),

ledger as (

    select coalesce(sum(amount), 0) as ledger_total
    from sales

),

expected as (

    select coalesce(sum(unit_price * quantity), 0) as expected_total
    from event_line_states
    where
        is_submitted
        and is_consuming
        and not no_charge
        and (
            event_type = 'STOCKING_ORDER'
            or (event_type = 'CASE' and not is_facility_stock)
        )

),

final as (

    select
        ledger.ledger_total,
        expected.expected_total
    from ledger
    cross join expected
    where ledger.ledger_total <> expected.expected_total

)

select * from final

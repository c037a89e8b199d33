-- rpt_reconciliation_monthly adds up to the sales ledger and to the double-billed lines.
-- Shown in Dagster as an asset check of rpt_reconciliation_monthly.
{{ config(meta={'dagster': {'ref': {'name': 'rpt_reconciliation_monthly'}}}) }}
with

reconciliation as (

    select * from {{ ref('rpt_reconciliation_monthly') }}

),

sales as (

    select * from {{ ref('fct_sales') }}

),

event_lines as (

    select * from {{ ref('fct_event_lines') }}

),

report_totals as (

    select
        coalesce(sum(expected_revenue), 0) as expected_revenue,
        coalesce(sum(double_billed_amount), 0) as double_billed_amount
    from reconciliation

),

ledger_totals as (

    select coalesce(sum(amount), 0) as expected_revenue
    from sales

),

double_billed as (

    select coalesce(sum(billed_amount), 0) as double_billed_amount
    from event_lines
    where
        usage_class = 'NON_SALE_FACILITY_STOCK'
        and billed_amount > 0

),

final as (

    select
        report_totals.expected_revenue as report_expected,
        ledger_totals.expected_revenue as ledger_expected,
        report_totals.double_billed_amount as report_double_billed,
        double_billed.double_billed_amount as lines_double_billed
    from report_totals
    cross join ledger_totals
    cross join double_billed
    where
        report_totals.expected_revenue <> ledger_totals.expected_revenue
        or report_totals.double_billed_amount <> double_billed.double_billed_amount

)

select * from final

{#- Billing and revenue anomalies of event lines: facility stock billed again (DOUBLE_BILLED),
    a case sale billed nothing or not at its expected amount (UNBILLED_SALE,
    BILLED_AMOUNT_MISMATCH), a single-use unit sold beyond its quantity (SOLD_TWICE). One row
    per offending line and code; severities and key columns: seed exception_codes. -#}
with

event_line_states as (

    select * from {{ ref('int_event_line_states') }}

),

double_billed as (

    select
        {{ exception_columns('DOUBLE_BILLED', 'line_at',
            sentence(['Case ', '=event_id', ' line ', '=line_no', ' billed ', '=billed_amount',
                ' for facility stock item ', '=item_id', ' already sold on stocking order ',
                '=stock_event_id', '. Facility-stock usage is non-sale: credit the facility.']),
            event_id='event_id', line_no='line_no', item_id='item_id',
            user_id='representative_id', facility_id='facility_id') }}
    from event_line_states
    where
        usage_class = 'NON_SALE_FACILITY_STOCK'
        and billed_amount > 0

),

unbilled_sale as (

    select
        {{ exception_columns('UNBILLED_SALE', 'line_at',
            sentence(['Event ', '=event_id', ' line ', '=line_no', ' sold item ', '=item_id',
                ' (expected ', '=expected_amount', ') but nothing was billed: invoice the facility.']),
            event_id='event_id', line_no='line_no', item_id='item_id',
            user_id='representative_id', facility_id='facility_id') }}
    from event_line_states
    where
        event_type = 'CASE'
        and usage_class = 'SALE'
        and billed_amount = 0

),

billed_amount_mismatch as (

    select
        {{ exception_columns('BILLED_AMOUNT_MISMATCH', 'line_at',
            sentence(['Event ', '=event_id', ' line ', '=line_no', ' billed ', '=billed_amount',
                ' for item ', '=item_id', ' but the expected amount (unit price x quantity) is ',
                '=expected_amount', '.']),
            event_id='event_id', line_no='line_no', item_id='item_id',
            user_id='representative_id', facility_id='facility_id') }}
    from event_line_states
    where
        event_type = 'CASE'
        and usage_class in ('SALE', 'NO_CHARGE')
        and billed_amount > 0
        and billed_amount <> expected_amount

),

ledger_running as (

    select
        *,
        sum(quantity) over (
            partition by item_id
            order by line_at, event_id, line_no
            rows between unbounded preceding and current row
        ) as quantity_sold_so_far
    from event_line_states
    where
        usage_class = 'SALE'
        and is_single_use

),

sold_twice as (

    select
        {{ exception_columns('SOLD_TWICE', 'line_at',
            sentence(['Single-use item ', '=item_id', ' is sold again on event ', '=event_id',
                ' line ', '=line_no', ': ', '=quantity_sold_so_far', ' units sold in total, but the item has only ',
                '=item_quantity', '.']),
            event_id='event_id', line_no='line_no', item_id='item_id',
            user_id='representative_id', facility_id='facility_id') }}
    from ledger_running
    where quantity_sold_so_far > item_quantity

),

family_exceptions as (

    select * from double_billed
    union all
    select * from unbilled_sale
    union all
    select * from billed_amount_mismatch
    union all
    select * from sold_twice

),

final as (

    select
        {{ exception_id() }} as exception_id,
        family_exceptions.*
    from family_exceptions

)

select * from final

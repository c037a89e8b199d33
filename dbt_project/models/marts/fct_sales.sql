{#- The sales ledger (R-16): submitted stocking-order lines that are not no-charge, plus
    sale lines of submitted cases (R-14). Each unit's revenue is counted once: facility-stock
    usage, returns, adjustments and other event types never appear. Commission at the
    representative's rate (R-19). -#}
with

event_lines as (

    select * from {{ ref('fct_event_lines') }}

),

users as (

    select * from {{ ref('stg_users') }}

),

final as (

    select
        event_lines.event_line_id,
        event_lines.event_id,
        event_lines.line_no,
        event_lines.item_id,
        event_lines.event_type,
        event_lines.facility_id,
        event_lines.representative_id,
        event_lines.line_at as sold_at,
        event_lines.catalog_number,
        event_lines.quantity,
        event_lines.unit_price,
        event_lines.expected_amount as amount,
        cast(coalesce(users.commission_rate, 0) as decimal(9, 4)) as commission_rate,
        {{ to_money('event_lines.expected_amount * coalesce(users.commission_rate, 0)') }}
            as commission_amount,
        event_lines.billed_amount
    from event_lines
    left join users
        on event_lines.representative_id = users.user_id
    where event_lines.usage_class = 'SALE'

)

select * from final

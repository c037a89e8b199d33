{#- Item-life anomalies: a consuming line or an accepted transfer on an item already inactive,
    or not yet created, at that time (INACTIVE_ITEM_USED, R-18), and a consuming line after the
    item's expiration date (EXPIRED_ITEM_USED). Severities and key columns: seed
    exception_codes. -#}
with

event_line_states as (

    select * from {{ ref('int_event_line_states') }}

),

transfer_states as (

    select * from {{ ref('int_transfer_states') }}

),

inactive_item_lines as (

    select
        {{ exception_columns('INACTIVE_ITEM_USED', 'line_at',
            sentence(['Item ', '=item_id', ' was already inactive (used up, sold directly, returned or written off) when event ',
                '=event_id', ' line ', '=line_no', ' used it.']),
            event_id='event_id', line_no='line_no', item_id='item_id',
            user_id='representative_id', facility_id='facility_id') }}
    from event_line_states
    where
        is_submitted
        and is_consuming
        and not is_item_active

),

inactive_item_transfers as (

    select
        {{ exception_columns('INACTIVE_ITEM_USED', 'transferred_at',
            sentence(['Transfer ', '=transfer_id', ' moved item ', '=item_id', ' on ',
                '=transferred_at', ', after the item became inactive on ', '=deactivated_at', '.']),
            item_id='item_id', transfer_id='transfer_id') }}
    from transfer_states
    where is_item_inactive

),

expired_item_used as (

    select
        {{ exception_columns('EXPIRED_ITEM_USED', 'line_at',
            sentence(['Item ', '=item_id', ' expired on ', '=expiration_date',
                ' but was used on event ', '=event_id', ' line ', '=line_no', ' on ',
                '=cast(line_at as date)', '.']),
            event_id='event_id', line_no='line_no', item_id='item_id',
            user_id='representative_id', facility_id='facility_id') }}
    from event_line_states
    where
        is_submitted
        and is_consuming
        and expiration_date is not null
        and cast(line_at as date) > expiration_date

),

family_exceptions as (

    select * from inactive_item_lines
    union all
    select * from inactive_item_transfers
    union all
    select * from expired_item_used

),

final as (

    select
        {{ exception_id() }} as exception_id,
        family_exceptions.*
    from family_exceptions

)

select * from final

{#- Custody and acting-user anomalies: a case sale by a representative without a path to the
    custodian (OUTSIDE_CUSTODY, R-14, R-6), a stocking order on an item outside the
    representative's own custody (SO_NOT_IN_CUSTODY, R-9), a transfer not from the custodian
    then (TRANSFER_NOT_FROM_CUSTODIAN, R-3), a holder whose role cannot hold inventory
    (NON_CUSTODIAL_HOLDER, R-2), a custodian-only account acting in a case (CUSTODIAN_ONLY_REP).
    Severities and key columns: seed exception_codes. -#}
with

event_line_states as (

    select * from {{ ref('int_event_line_states') }}

),

transfer_states as (

    select * from {{ ref('int_transfer_states') }}

),

custody_intervals as (

    select * from {{ ref('int_custody_intervals') }}

),

events as (

    select * from {{ ref('stg_events') }}

),

users as (

    select * from {{ ref('stg_users') }}

),

outside_custody as (

    select
        {{ exception_columns('OUTSIDE_CUSTODY', 'line_at',
            sentence(['Representative ', '=representative_id', ' used item ', '=item_id',
                ' in case ', '=event_id', ' line ', '=line_no', ' while it was in the custody of ',
                '=custodian_at_use', ', which they had no right to use at the case date.']),
            event_id='event_id', line_no='line_no', item_id='item_id',
            user_id='representative_id', facility_id='facility_id') }}
    from event_line_states
    where
        event_type = 'CASE'
        and usage_class in ('SALE', 'NO_CHARGE')
        and access_path is null

),

so_not_in_custody as (

    select
        {{ exception_columns('SO_NOT_IN_CUSTODY', 'line_at',
            sentence(['Stocking order ', '=event_id', ' line ', '=line_no', ' sold item ',
                '=item_id', ' but at submission it was in the custody of ', '=custodian_at_use',
                ', not of the representative ', '=representative_id', '.']),
            event_id='event_id', line_no='line_no', item_id='item_id',
            user_id='representative_id', facility_id='facility_id') }}
    from event_line_states
    where
        event_type = 'STOCKING_ORDER'
        and is_submitted
        and is_consuming
        and coalesce(custodian_at_use <> representative_id, true)

),

transfer_not_from_custodian as (

    select
        {{ exception_columns('TRANSFER_NOT_FROM_CUSTODIAN', 'transferred_at',
            sentence(['Transfer ', '=transfer_id', ' of item ', '=item_id', ' says it came from ',
                '=from_custodian_id', ' but the custodian then was ', '=custodian_before',
                '; custody still moved to ', '=to_custodian_id', '.']),
            item_id='item_id', transfer_id='transfer_id') }}
    from transfer_states
    where coalesce(from_custodian_id <> custodian_before, true)

),

non_custodial_holder as (

    select
        {{ exception_columns('NON_CUSTODIAL_HOLDER', 'custody_intervals.valid_from',
            sentence(['Item ', '=custody_intervals.item_id', ' is held by ',
                '=custody_intervals.custodian_id', ' whose role ', '=users.role',
                ' cannot hold inventory.']),
            item_id='custody_intervals.item_id', user_id='custody_intervals.custodian_id',
            transfer_id='custody_intervals.transfer_id') }}
    from custody_intervals
    inner join users
        on custody_intervals.custodian_id = users.user_id
    where users.role not in ('SALES', 'DISTRIBUTOR')

),

custodian_only_rep as (

    select
        {{ exception_columns('CUSTODIAN_ONLY_REP', 'events.event_date',
            sentence(['Case ', '=events.event_id', ' names custodian-only account ',
                '=events.representative_id', ' as representative; custodian-only accounts do not act in cases.']),
            event_id='events.event_id', user_id='events.representative_id',
            facility_id='events.facility_id') }}
    from events
    inner join users
        on events.representative_id = users.user_id
    where
        events.event_type = 'CASE'
        and users.is_custodian_only

),

family_exceptions as (

    select * from outside_custody
    union all
    select * from so_not_in_custody
    union all
    select * from transfer_not_from_custodian
    union all
    select * from non_custodial_holder
    union all
    select * from custodian_only_rep

),

final as (

    select
        {{ exception_id() }} as exception_id,
        family_exceptions.*
    from family_exceptions

)

select * from final

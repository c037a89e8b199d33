{#- UNKNOWN_REFERENCE on event lines and events: a line naming an event or an item that does not
    exist, an event naming an unknown representative or facility. One row per record and
    unknown reference, whatever the record's status. Key columns: seed exception_codes. -#}
with

event_lines as (

    select * from {{ ref('int_event_lines') }}

),

events as (

    select * from {{ ref('stg_events') }}

),

users as (

    select * from {{ ref('stg_users') }}

),

facilities as (

    select * from {{ ref('stg_facilities') }}

),

unknown_line_event as (

    select
        {{ exception_columns('UNKNOWN_REFERENCE', 'updated_at',
            sentence(['Event line ', '=event_id', ' #', '=line_no',
                ' names event ', '=event_id', ', which does not exist.']),
            event_id='event_id', line_no='line_no') }}
    from event_lines
    where not is_event_known

),

unknown_line_item as (

    select
        {{ exception_columns('UNKNOWN_REFERENCE', 'coalesce(line_at, updated_at)',
            sentence(['Event ', '=event_id', ' line ', '=line_no', ' names item ', '=item_id',
                ', which does not exist.']),
            event_id='event_id', line_no='line_no', item_id='item_id') }}
    from event_lines
    where not is_item_known

),

unknown_event_representative as (

    select
        {{ exception_columns('UNKNOWN_REFERENCE', 'events.event_date',
            sentence(['Event ', '=events.event_id', ' names representative ',
                '=events.representative_id', ', who is not a known user.']),
            event_id='events.event_id', user_id='events.representative_id') }}
    from events
    left join users
        on events.representative_id = users.user_id
    where users.user_id is null

),

unknown_event_facility as (

    select
        {{ exception_columns('UNKNOWN_REFERENCE', 'events.event_date',
            sentence(['Event ', '=events.event_id', ' names facility ', '=events.facility_id',
                ', which does not exist.']),
            event_id='events.event_id', facility_id='events.facility_id') }}
    from events
    left join facilities
        on events.facility_id = facilities.facility_id
    where facilities.facility_id is null

),

family_exceptions as (

    select * from unknown_line_event
    union all
    select * from unknown_line_item
    union all
    select * from unknown_event_representative
    union all
    select * from unknown_event_facility

),

final as (

    select
        {{ exception_id() }} as exception_id,
        family_exceptions.*
    from family_exceptions

)

select * from final

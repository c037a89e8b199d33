{#- One row per offending record and anomaly code: the rows of the exception families
    (intermediate/exceptions/int_exceptions__<family>, each raising a few codes), with the
    severity of their code from the seed exception_codes. A code missing from the seed keeps
    a null severity, which its relationships and not_null tests report. -#}
with

billing as (

    select * from {{ ref('int_exceptions__billing') }}

),

facility_stock as (

    select * from {{ ref('int_exceptions__facility_stock') }}

),

custody as (

    select * from {{ ref('int_exceptions__custody') }}

),

item_life as (

    select * from {{ ref('int_exceptions__item_life') }}

),

links as (

    select * from {{ ref('int_exceptions__links') }}

),

references_events as (

    select * from {{ ref('int_exceptions__references_events') }}

),

references_items as (

    -- the family's columns without its incremental bookkeeping (_through_file_id)
    select
        exception_id,
        code,
        event_id,
        line_no,
        item_id,
        user_id,
        related_user_id,
        facility_id,
        transfer_id,
        occurred_at,
        detail
    from {{ ref('int_exceptions__references_items') }}

),

references_sharing as (

    select * from {{ ref('int_exceptions__references_sharing') }}

),

exception_codes as (

    select * from {{ ref('exception_codes') }}

),

all_exceptions as (

    select * from billing
    union all
    select * from facility_stock
    union all
    select * from custody
    union all
    select * from item_life
    union all
    select * from links
    union all
    select * from references_events
    union all
    select * from references_items
    union all
    select * from references_sharing

),

final as (

    select
        all_exceptions.exception_id,
        all_exceptions.code,
        exception_codes.severity,
        all_exceptions.event_id,
        all_exceptions.line_no,
        all_exceptions.item_id,
        all_exceptions.user_id,
        all_exceptions.related_user_id,
        all_exceptions.facility_id,
        all_exceptions.transfer_id,
        all_exceptions.occurred_at,
        all_exceptions.detail
    from all_exceptions
    left join exception_codes
        on all_exceptions.code = exception_codes.code

)

select * from final

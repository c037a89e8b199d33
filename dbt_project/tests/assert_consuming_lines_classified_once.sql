-- Every consuming line of a submitted event on a known event and item is classified exactly
-- once, into a class that consumes (never NOT_CONSUMED / NOT_SUBMITTED).
-- Shown in Dagster as an asset check of fct_event_lines.
{{ config(meta={'dagster': {'ref': {'name': 'fct_event_lines'}}}) }}
with

event_lines as (

    select * from {{ ref('int_event_lines') }}

),

classified as (

    select * from {{ ref('fct_event_lines') }}

),

consuming as (

    select
        event_id,
        line_no
    from event_lines
    where
        is_event_known
        and is_item_known
        and is_submitted
        and is_consuming

),

counted as (

    select
        consuming.event_id,
        consuming.line_no,
        count(classified.event_id) as classifications,
        max(classified.usage_class) as usage_class
    from consuming
    left join classified
        on
            consuming.event_id = classified.event_id
            and consuming.line_no = classified.line_no
    group by consuming.event_id, consuming.line_no

),

final as (

    select *
    from counted
    where
        classifications <> 1
        or usage_class not in ('SALE', 'NO_CHARGE', 'NON_SALE_FACILITY_STOCK', 'NON_SALE_EVENT')

)

select * from final

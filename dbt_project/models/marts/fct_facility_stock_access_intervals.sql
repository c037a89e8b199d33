{#- Who could use each item of facility stock, by which path and when (R-10, R-13): the spans
    the item was on hand under one stocking order (fct_facility_stock_intervals) intersected
    with the paths to its seller (fct_access_path_intervals). As fct_facility_stock_access
    does for now: admins and custodian-only users are left out (docs/rules.md, readings 11
    and 14). The rows at instant t (`valid_from <= t and (valid_to is null or t < valid_to)`)
    are fct_facility_stock_access's rows when t is the reference instant. -#}
with

stock_intervals as (

    select * from {{ ref('fct_facility_stock_intervals') }}

),

path_intervals as (

    select * from {{ ref('fct_access_path_intervals') }}

),

users as (

    select * from {{ ref('stg_users') }}

),

-- an item is on hand without a break while one stocking order is in force
on_hand_spans as (

    select
        item_id,
        stocking_order_id,
        stocking_order_line_no,
        facility_id,
        seller_id,
        min(valid_from) as span_from,
        max(coalesce(valid_to, {{ open_end() }})) as span_to
    from stock_intervals
    group by item_id, stocking_order_id, stocking_order_line_no, facility_id, seller_id

),

pieces as (

    select
        on_hand_spans.item_id,
        on_hand_spans.facility_id,
        on_hand_spans.seller_id,
        path_intervals.user_id,
        path_intervals.access_path,
        on_hand_spans.stocking_order_id,
        case
            when
                path_intervals.valid_from is null
                or path_intervals.valid_from < on_hand_spans.span_from
                then on_hand_spans.span_from
            else path_intervals.valid_from
        end as valid_from,
        case
            when
                path_intervals.valid_to is null
                or on_hand_spans.span_to < path_intervals.valid_to
                then on_hand_spans.span_to
            else path_intervals.valid_to
        end as reach
    from on_hand_spans
    inner join path_intervals
        on on_hand_spans.seller_id = path_intervals.holder_id
    inner join users
        on path_intervals.user_id = users.user_id
    where
        -- admins reach everything and are left out; custodian-only accounts never act
        users.role not in ('PRIMARY_ADMIN', 'ADMIN', 'OPERATIONS')
        and not users.is_custodian_only

),

final as (

    select
        item_id,
        facility_id,
        seller_id,
        user_id,
        access_path,
        stocking_order_id,
        valid_from,
        case when reach < {{ open_end() }} then reach end as valid_to
    from pieces
    where valid_from < reach

)

select * from final

{#- Each event line on a known event and item, classified (R-11, R-14, R-16), with the
    custodian at the line's instant (R-1) and the representative's access path at that
    instant (R-5, R-6, R-10, R-14). For facility stock the path is judged against the
    seller (R-13), otherwise against the custodian.

    Incremental (macros/item_incremental.sql, line_states_touched): a build re-derives the lines
    of touched items and the lines a touched user may act on or hold (links, sharing or role
    changed); its pre-hooks delete the same lines (the folder's, for touched items, in
    dbt_project.yml; its own, for touched users, in _int_item_incremental.yml). -#}
-- depends_on: {{ ref('int_touched_entities') }}
with

event_lines as (

    select * from {{ ref('int_event_lines') }}

),

line_sequence as (

    select * from {{ ref('int_item_line_sequence') }}

),

custody_intervals as (

    select * from {{ ref('int_custody_intervals') }}

),

users as (

    select * from {{ ref('stg_users') }}

),

link_intervals as (

    select * from {{ ref('int_link_intervals') }}

),

sharing_intervals as (

    select * from {{ ref('int_sharing_intervals') }}

),

known_lines as (

    select * from event_lines
    where
        is_event_known
        and is_item_known
        and {{ line_states_touched() }}

),

with_sequence as (

    select
        {{ columns_except(ref('int_event_lines'), ['_through_file_id'], 'known_lines') }},
        line_sequence.item_seq,
        coalesce(line_sequence.is_item_active, true) as is_item_active,
        coalesce(line_sequence.is_deactivating_line, false) as is_deactivating_line,
        coalesce(line_sequence.is_facility_stock, false) as is_facility_stock,
        line_sequence.stock_event_id,
        line_sequence.stock_line_no,
        line_sequence.stock_facility_id,
        line_sequence.stock_seller_id,
        line_sequence.stock_unit_price
    from known_lines
    left join line_sequence
        on known_lines.event_line_id = line_sequence.event_line_id

),

with_custody as (

    select
        with_sequence.*,
        custody_intervals.custodian_id as custodian_at_use
    from with_sequence
    left join custody_intervals
        on
            with_sequence.is_submitted
            and with_sequence.item_id = custody_intervals.item_id
            and with_sequence.line_at >= custody_intervals.valid_from
            and (
                custody_intervals.valid_to is null
                or with_sequence.line_at < custody_intervals.valid_to
            )

),

classified as (

    select
        *,
        case
            when not is_submitted then 'NOT_SUBMITTED'
            when not is_consuming then 'NOT_CONSUMED'
            when event_type = 'STOCKING_ORDER' and no_charge then 'NO_CHARGE'
            when event_type = 'STOCKING_ORDER' then 'SALE'
            when event_type <> 'CASE' then 'NON_SALE_EVENT'
            when is_facility_stock then 'NON_SALE_FACILITY_STOCK'
            when no_charge then 'NO_CHARGE'
            else 'SALE'
        end as usage_class,
        is_submitted and is_consuming and event_type = 'CASE' as needs_access_path,
        case
            when is_facility_stock then stock_seller_id
            else custodian_at_use
        end as access_target_id
    from with_custody

),

access_requests as (

    select
        event_line_id as request_id,
        representative_id as actor_id,
        access_target_id as target_id,
        line_at as checked_at
    from classified
    where needs_access_path

),

access_candidates as (

    {{ access_path_candidates('access_requests', 'users', 'link_intervals',
        'sharing_intervals') }}

),

best_access as (

    select
        request_id,
        min(path_rank) as path_rank
    from access_candidates
    group by request_id

),

final as (

    select
        classified.*,
        {{ access_path_name('best_access.path_rank') }} as access_path,
        case
            when classified.usage_class = 'SALE'
                then {{ to_money('classified.unit_price * classified.quantity') }}
            else {{ to_money('0') }}
        end as expected_amount,
        {{ through_file_id() }} as _through_file_id
    from classified
    left join best_access
        on classified.event_line_id = best_access.request_id

)

select * from final

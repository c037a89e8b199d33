{#- Facility-stock anomalies: used at another facility or by a representative without a path to
    the seller (FS_WRONG_FACILITY, FS_INELIGIBLE_REP, R-10), a case mixing facility stock and
    consigned lines (MIXED_CASE, R-17), active facility stock transferred (FS_TRANSFERRED,
    R-13) or returned (FS_RETURNED, R-12). Severities and key columns: seed exception_codes. -#}
with

event_line_states as (

    select * from {{ ref('int_event_line_states') }}

),

transfer_states as (

    select * from {{ ref('int_transfer_states') }}

),

fs_wrong_facility as (

    select
        {{ exception_columns('FS_WRONG_FACILITY', 'line_at',
            sentence(['Facility stock item ', '=item_id', ' was sold to facility ',
                '=stock_facility_id', ' on stocking order ', '=stock_event_id',
                ' but used in case ', '=event_id', ' line ', '=line_no', ' at facility ',
                '=facility_id', '. Facility stock may only be used at the facility that bought it.']),
            event_id='event_id', line_no='line_no', item_id='item_id',
            user_id='representative_id', facility_id='facility_id') }}
    from event_line_states
    where
        usage_class = 'NON_SALE_FACILITY_STOCK'
        and coalesce(facility_id <> stock_facility_id, true)

),

fs_ineligible_rep as (

    select
        {{ exception_columns('FS_INELIGIBLE_REP', 'line_at',
            sentence(['Representative ', '=representative_id', ' used facility stock item ',
                '=item_id', ' in case ', '=event_id', ' line ', '=line_no',
                ' without access to the seller ', '=stock_seller_id',
                ' at the case date (no own, distributor-share or distributor-over-rep path).']),
            event_id='event_id', line_no='line_no', item_id='item_id',
            user_id='representative_id', facility_id='facility_id') }}
    from event_line_states
    where
        usage_class = 'NON_SALE_FACILITY_STOCK'
        and access_path is null

),

case_line_mix as (

    select
        event_id,
        representative_id,
        facility_id,
        min(line_at) as line_at,
        sum(case when usage_class = 'NON_SALE_FACILITY_STOCK' then 1 else 0 end)
            as facility_stock_lines,
        sum(case when usage_class in ('SALE', 'NO_CHARGE') then 1 else 0 end)
            as consigned_lines
    from event_line_states
    where event_type = 'CASE'
    group by event_id, representative_id, facility_id

),

mixed_case as (

    select
        {{ exception_columns('MIXED_CASE', 'line_at',
            sentence(['Case ', '=event_id', ' mixes ', '=facility_stock_lines',
                ' facility-stock line(s) with ', '=consigned_lines',
                ' consigned line(s); a case holds one or the other.']),
            event_id='event_id', user_id='representative_id', facility_id='facility_id') }}
    from case_line_mix
    where
        facility_stock_lines > 0
        and consigned_lines > 0

),

fs_transferred as (

    select
        {{ exception_columns('FS_TRANSFERRED', 'transferred_at',
            sentence(['Transfer ', '=transfer_id', ' moved facility stock item ', '=item_id',
                ' (facility ', '=stock_facility_id', ', seller ', '=stock_seller_id',
                ') to ', '=to_custodian_id', '; facility stock keeps its facility and seller.']),
            item_id='item_id', facility_id='stock_facility_id', transfer_id='transfer_id') }}
    from transfer_states
    where
        is_facility_stock
        and not is_item_inactive

),

fs_returned as (

    select
        {{ exception_columns('FS_RETURNED', 'line_at',
            sentence(['Facility stock item ', '=item_id', ' (sold to facility ',
                '=stock_facility_id', ' on stocking order ', '=stock_event_id',
                ') was returned on event ', '=event_id', ' line ', '=line_no',
                ': a credit candidate for finance.']),
            event_id='event_id', line_no='line_no', item_id='item_id',
            user_id='representative_id', facility_id='stock_facility_id') }}
    from event_line_states
    where
        event_type = 'RETURN'
        and is_submitted
        and is_consuming
        and is_facility_stock
        and is_item_active

),

family_exceptions as (

    select * from fs_wrong_facility
    union all
    select * from fs_ineligible_rep
    union all
    select * from mixed_case
    union all
    select * from fs_transferred
    union all
    select * from fs_returned

),

final as (

    select
        {{ exception_id() }} as exception_id,
        family_exceptions.*
    from family_exceptions

)

select * from final

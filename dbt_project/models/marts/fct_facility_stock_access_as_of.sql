{#- fct_facility_stock_access at a chosen instant (var `as_of`, read as in
    rpt_stock_levels_as_of): who could use each on-hand facility-stock item then, and by which
    path. Unset, it equals fct_facility_stock_access. -#}
with

access_intervals as (

    select * from {{ ref('fct_facility_stock_access_intervals') }}

),

reference_instant as (

    select * from {{ ref('int_reference_instant') }}

),

instant as (

    {{ as_of_instant('reference_instant') }}

),

final as (

    select
        access_intervals.item_id,
        access_intervals.facility_id,
        access_intervals.user_id,
        access_intervals.access_path,
        access_intervals.seller_id,
        instant.as_of
    from access_intervals
    cross join instant
    where
        access_intervals.valid_from <= instant.as_of
        and (access_intervals.valid_to is null or instant.as_of < access_intervals.valid_to)

)

select * from final

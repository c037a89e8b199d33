{#- rpt_stock_levels at a chosen instant: var `as_of` (a date = the end of that day; unset =
    the reference instant, where it equals rpt_stock_levels; later than the reference instant
    = the reference instant; before the first record = the build stops with a message):
        dbt build --select rpt_stock_levels_as_of --vars '{as_of: 2024-03-01}'
    Read off the interval marts, which answer any instant without a rebuild. -#}
with

stock_intervals as (

    select * from {{ ref('fct_facility_stock_intervals') }}

),

access_intervals as (

    select * from {{ ref('fct_facility_stock_access_intervals') }}

),

reference_instant as (

    select * from {{ ref('int_reference_instant') }}

),

instant as (

    {{ as_of_instant('reference_instant') }}

),

on_hand as (

    select
        stock_intervals.*,
        instant.as_of
    from stock_intervals
    cross join instant
    where
        stock_intervals.valid_from <= instant.as_of
        and (stock_intervals.valid_to is null or instant.as_of < stock_intervals.valid_to)

),

stock_access as (

    select access_intervals.*
    from access_intervals
    cross join instant
    where
        access_intervals.valid_from <= instant.as_of
        and (access_intervals.valid_to is null or instant.as_of < access_intervals.valid_to)

),

levels as (

    select
        facility_id,
        catalog_number,
        max(as_of) as as_of,
        sum(quantity_on_hand) as quantity_on_hand,
        sum(value_on_hand) as value_on_hand,
        count(*) as items,
        min(sold_at) as oldest_sold_at,
        min(expiration_date) as next_expiration,
        sum(case
            when expiration_date <= cast({{ dbt.dateadd('day',
                var('expiring_window_days'), 'as_of') }} as date)
                then quantity_on_hand
            else 0
        end) as quantity_expiring_90d
    from on_hand
    group by facility_id, catalog_number

),

eligible as (

    select
        on_hand.facility_id,
        on_hand.catalog_number,
        count(distinct stock_access.user_id) as eligible_users,
        {{ ordered_id_list('stock_access.user_id') }} as eligible_user_ids
    from on_hand
    inner join stock_access
        on on_hand.item_id = stock_access.item_id
    group by on_hand.facility_id, on_hand.catalog_number

),

final as (

    select
        levels.facility_id,
        levels.catalog_number,
        cast(levels.quantity_on_hand as {{ dbt.type_bigint() }}) as quantity_on_hand,
        cast(levels.value_on_hand as {{ money_type() }}) as value_on_hand,
        cast(levels.items as {{ dbt.type_bigint() }}) as items,
        levels.oldest_sold_at,
        levels.next_expiration,
        cast(levels.quantity_expiring_90d as {{ dbt.type_bigint() }}) as quantity_expiring_90d,
        cast(coalesce(eligible.eligible_users, 0) as {{ dbt.type_bigint() }}) as eligible_users,
        eligible.eligible_user_ids,
        levels.as_of
    from levels
    left join eligible
        on
            levels.facility_id = eligible.facility_id
            and levels.catalog_number = eligible.catalog_number

)

select * from final

{#- Each ACCEPTED transfer of a known item, with the custodian just before it and the item's
    state at its instant. Transfers at t apply before event lines at t: the item is live at t
    when created_at <= t and it was not deactivated before t; it is facility stock at t when
    sold as such strictly before t (R-3, R-13, R-18). A transfer on an item that is not live
    moves nothing; its stated from_custodian_id is judged against the custodian at t
    (none before the item exists).

    A live transfer is exactly a custody period that starts with a transfer, which already
    carries the custodian before it: only the few transfers that are not live are looked up
    again. Item-grained incremental (macros/item_incremental.sql). -#}
-- depends_on: {{ ref('int_touched_entities') }}
with

transfers as (

    select * from {{ ref('stg_transfers') }}
    where {{ only_touched('item_id') }}

),

inventory_items as (

    select * from {{ ref('stg_inventory_items') }}
    where {{ only_touched('item_id') }}

),

custody_intervals as (

    select * from {{ ref('int_custody_intervals') }}
    where {{ only_touched('item_id') }}

),

-- the custody periods a transfer started (each large input is read once where it is
-- needed, with only its columns: a CTE read twice would be materialized whole)
transfer_periods as (

    select * from {{ ref('int_custody_intervals') }}
    where transfer_id is not null and {{ only_touched('item_id') }}

),

accepted_transfers as (

    select * from {{ ref('stg_transfers') }}
    where
        transfer_status = 'ACCEPTED'
        and effective_at is not null
        and {{ only_touched('item_id') }}

),

line_sequence as (

    select * from {{ ref('int_item_line_sequence') }}
    where {{ only_touched('item_id') }}

),

deactivations as (

    select
        item_id,
        line_at as deactivated_at
    from line_sequence
    where is_deactivating_line

),

live_transfers as (

    select
        transfer_id,
        item_id,
        from_custodian_id,
        custodian_id as to_custodian_id,
        valid_from as transferred_at,
        true as is_item_live,
        previous_custodian_id as custodian_before
    from transfer_periods

),

not_live_transfers as (

    select
        transfers.transfer_id,
        transfers.item_id,
        transfers.from_custodian_id,
        transfers.to_custodian_id,
        transfers.effective_at as transferred_at,
        transfers.effective_at >= inventory_items.created_at as is_item_created
    from transfers
    inner join inventory_items
        on transfers.item_id = inventory_items.item_id
    left join deactivations
        on transfers.item_id = deactivations.item_id
    where
        transfers.transfer_status = 'ACCEPTED'
        and transfers.effective_at is not null
        and not (
            transfers.effective_at >= inventory_items.created_at
            and (
                deactivations.deactivated_at is null
                or transfers.effective_at <= deactivations.deactivated_at
            )
        )

),

custody_at_instant as (

    select
        not_live_transfers.transfer_id,
        custody_intervals.custodian_id
    from not_live_transfers
    inner join custody_intervals
        on
            not_live_transfers.item_id = custody_intervals.item_id
            and not_live_transfers.transferred_at >= custody_intervals.valid_from
            and (
                custody_intervals.valid_to is null
                or not_live_transfers.transferred_at < custody_intervals.valid_to
            )
    where not_live_transfers.is_item_created

),

accepted as (

    select * from live_transfers
    union all
    select
        not_live_transfers.transfer_id,
        not_live_transfers.item_id,
        not_live_transfers.from_custodian_id,
        not_live_transfers.to_custodian_id,
        not_live_transfers.transferred_at,
        false as is_item_live,
        custody_at_instant.custodian_id as custodian_before
    from not_live_transfers
    left join custody_at_instant
        on not_live_transfers.transfer_id = custody_at_instant.transfer_id

),

stock_sales as (

    select
        item_id,
        item_seq,
        line_at,
        facility_id,
        representative_id
    from line_sequence
    where is_facility_stock_sale

),

stock_sale_before as (

    -- the latest facility-stock sale strictly before each transfer of a sold item
    select
        transfer_id,
        facility_id,
        representative_id
    from (
        select
            accepted_transfers.transfer_id,
            stock_sales.facility_id,
            stock_sales.representative_id,
            row_number() over (
                partition by accepted_transfers.transfer_id
                order by stock_sales.item_seq desc
            ) as sale_rank
        from accepted_transfers
        inner join stock_sales
            on
                accepted_transfers.item_id = stock_sales.item_id
                and accepted_transfers.effective_at > stock_sales.line_at
    ) as ranked
    where sale_rank = 1

),

final as (

    select
        accepted.transfer_id,
        accepted.item_id,
        accepted.from_custodian_id,
        accepted.to_custodian_id,
        accepted.transferred_at,
        deactivations.deactivated_at,
        accepted.is_item_live,
        not accepted.is_item_live as is_item_inactive,
        accepted.custodian_before,
        accepted.is_item_live and stock_sale_before.transfer_id is not null
            as is_facility_stock,
        stock_sale_before.facility_id as stock_facility_id,
        stock_sale_before.representative_id as stock_seller_id,
        {{ through_file_id() }} as _through_file_id
    from accepted
    left join deactivations
        on accepted.item_id = deactivations.item_id
    left join stock_sale_before
        on accepted.transfer_id = stock_sale_before.transfer_id

)

select * from final

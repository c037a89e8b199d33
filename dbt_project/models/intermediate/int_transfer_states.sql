{#- Each ACCEPTED transfer of a known item, with the custodian just before it and the item's
    state at its instant. Transfers at t apply before event lines at t: the item is live at t
    when created_at <= t and it was not deactivated before t; it is facility stock at t when
    sold as such strictly before t (R-3, R-13, R-18). A transfer on an item that is not live
    moves nothing; its stated from_custodian_id is judged against the custodian at t
    (none before the item exists). -#}
with

transfers as (

    select * from {{ ref('stg_transfers') }}

),

inventory_items as (

    select * from {{ ref('stg_inventory_items') }}

),

custody_intervals as (

    select * from {{ ref('int_custody_intervals') }}

),

line_sequence as (

    select * from {{ ref('int_item_line_sequence') }}

),

deactivations as (

    select
        item_id,
        line_at as deactivated_at
    from line_sequence
    where is_deactivating_line

),

accepted as (

    select
        transfers.transfer_id,
        transfers.item_id,
        transfers.from_custodian_id,
        transfers.to_custodian_id,
        transfers.effective_at as transferred_at,
        deactivations.deactivated_at,
        transfers.effective_at >= inventory_items.created_at
        and (
            deactivations.deactivated_at is null
            or transfers.effective_at <= deactivations.deactivated_at
        ) as is_item_live,
        transfers.effective_at >= inventory_items.created_at as is_item_created
    from transfers
    inner join inventory_items
        on transfers.item_id = inventory_items.item_id
    left join deactivations
        on transfers.item_id = deactivations.item_id
    where
        transfers.transfer_status = 'ACCEPTED'
        and transfers.effective_at is not null

),

moved_custody as (

    select
        transfer_id,
        previous_custodian_id
    from custody_intervals
    where transfer_id is not null

),

custody_at_instant as (

    select
        accepted.transfer_id,
        custody_intervals.custodian_id
    from accepted
    inner join custody_intervals
        on
            accepted.item_id = custody_intervals.item_id
            and accepted.transferred_at >= custody_intervals.valid_from
            and (
                custody_intervals.valid_to is null
                or accepted.transferred_at < custody_intervals.valid_to
            )
    where
        not accepted.is_item_live
        and accepted.is_item_created

),

stock_sale_before as (

    select
        accepted.transfer_id,
        max(line_sequence.item_seq) as stock_sale_seq
    from accepted
    inner join line_sequence
        on
            accepted.item_id = line_sequence.item_id
            and line_sequence.is_facility_stock_sale
            and accepted.transferred_at > line_sequence.line_at
    group by accepted.transfer_id

),

final as (

    select
        accepted.transfer_id,
        accepted.item_id,
        accepted.from_custodian_id,
        accepted.to_custodian_id,
        accepted.transferred_at,
        accepted.deactivated_at,
        accepted.is_item_live,
        not accepted.is_item_live as is_item_inactive,
        case
            when accepted.is_item_live then moved_custody.previous_custodian_id
            else custody_at_instant.custodian_id
        end as custodian_before,
        accepted.is_item_live and stock_sale_before.transfer_id is not null
            as is_facility_stock,
        sale.facility_id as stock_facility_id,
        sale.representative_id as stock_seller_id
    from accepted
    left join moved_custody
        on accepted.transfer_id = moved_custody.transfer_id
    left join custody_at_instant
        on accepted.transfer_id = custody_at_instant.transfer_id
    left join stock_sale_before
        on accepted.transfer_id = stock_sale_before.transfer_id
    left join line_sequence as sale
        on
            accepted.item_id = sale.item_id
            and stock_sale_before.stock_sale_seq = sale.item_seq

)

select * from final

{#- R-1, R-3: custody periods per item. The initial custodian holds from created_at; each
    ACCEPTED transfer moves custody at its effective instant (responded_at, else updated_at,
    else created_at), whatever its from_custodian_id says (R-3). Transfers at one instant apply
    in transfer_id order, so a custodian "at t" includes every transfer accepted at t
    (valid_from <= t < valid_to). R-18 beats R-3: a transfer of an item that does not exist
    yet or is already inactive moves nothing (it is flagged INACTIVE_ITEM_USED); the last
    custodian of an inactive item keeps it. Item-grained incremental
    (macros/item_incremental.sql). -#}
-- depends_on: {{ ref('int_touched_entities') }}
with

inventory_items as (

    select * from {{ ref('stg_inventory_items') }}
    where {{ only_touched('item_id') }}

),

transfers as (

    select * from {{ ref('stg_transfers') }}
    where {{ only_touched('item_id') }}

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

initial_custody as (

    select
        item_id,
        initial_custodian_id as custodian_id,
        created_at as moved_at,
        0 as move_order,
        cast(null as {{ dbt.type_string() }}) as transfer_id,
        cast(null as {{ dbt.type_string() }}) as from_custodian_id
    from inventory_items

),

accepted_transfers as (

    select
        transfers.item_id,
        transfers.to_custodian_id as custodian_id,
        transfers.effective_at as moved_at,
        1 as move_order,
        transfers.transfer_id,
        transfers.from_custodian_id
    from transfers
    inner join inventory_items
        on transfers.item_id = inventory_items.item_id
    left join deactivations
        on transfers.item_id = deactivations.item_id
    where transfers.transfer_status = 'ACCEPTED'
    -- the item exists and is still active (transfers at t apply before lines at t)
    and transfers.effective_at >= inventory_items.created_at
    and (
        deactivations.deactivated_at is null
        or transfers.effective_at <= deactivations.deactivated_at
    )

),

moves as (

    select * from initial_custody
    union all
    select * from accepted_transfers

),

sequenced as (

    -- one window (one sort per item): number, previous custodian and end of each period
    select
        *,
        row_number() over (
            partition by item_id
            order by move_order, moved_at, transfer_id
        ) as interval_no,
        lag(custodian_id) over (
            partition by item_id
            order by move_order, moved_at, transfer_id
        ) as previous_custodian_id,
        lead(moved_at) over (
            partition by item_id
            order by move_order, moved_at, transfer_id
        ) as valid_to
    from moves

),

intervals as (

    select
        {{ dbt.concat(["item_id", "'#'", dbt.safe_cast("interval_no", dbt.type_string())]) }}
            as custody_interval_id,
        item_id,
        interval_no,
        custodian_id,
        transfer_id,
        from_custodian_id,
        previous_custodian_id,
        moved_at as valid_from,
        valid_to
    from sequenced

),

final as (

    select
        *,
        valid_to is null as is_current,
        {{ through_file_id() }} as _through_file_id
    from intervals

)

select * from final

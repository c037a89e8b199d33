{#- UNKNOWN_REFERENCE on items and transfers: an item naming a product that is not in the
    catalog or an unknown initial custodian, a transfer naming an item that does not exist or
    an unknown custodian at either end (ORG is a valid custodian). One row per record and
    unknown reference, whatever the transfer's status. Key columns: seed exception_codes.

    Item-grained incremental (macros/item_incremental.sql): a row depends on its item's or
    transfer's record (a changed transfer touches its item), on the product catalog (a new
    product version touches the items naming it) and on the users (a new user version touches
    that user), so a build re-derives the rows of touched items and touched users only; the
    pre-hook (_int_exceptions.yml) deletes exactly those. -#}
-- depends_on: {{ ref('int_touched_entities') }}
with

inventory_items as (

    select * from {{ ref('stg_inventory_items') }}

),

products as (

    select * from {{ ref('stg_products') }}

),

transfers as (

    select * from {{ ref('stg_transfers') }}

),

users as (

    select * from {{ ref('stg_users') }}

),

transfer_instants as (

    select
        *,
        case
            when transfer_status = 'ACCEPTED' then effective_at else created_at
        end as recorded_at
    from transfers
    -- on an incremental build, the transfers of touched items or naming a touched user
    where
        {{ touched_item_or_user('item_id', 'from_custodian_id') }}
        or {{ only_touched('to_custodian_id', 'user') }}

),

unknown_item_product as (

    select
        {{ exception_columns('UNKNOWN_REFERENCE', 'inventory_items.created_at',
            sentence(['Item ', '=inventory_items.item_id', ' names catalog number ',
                '=inventory_items.catalog_number', ', which is not in the product catalog.']),
            item_id='inventory_items.item_id') }}
    from inventory_items
    left join products
        on inventory_items.catalog_number = products.catalog_number
    where
        products.catalog_number is null
        and {{ only_touched('inventory_items.item_id') }}

),

unknown_item_custodian as (

    select
        {{ exception_columns('UNKNOWN_REFERENCE', 'inventory_items.created_at',
            sentence(['Item ', '=inventory_items.item_id', ' starts in the custody of ',
                '=inventory_items.initial_custodian_id', ', who is not a known user.']),
            item_id='inventory_items.item_id', user_id='inventory_items.initial_custodian_id') }}
    from inventory_items
    left join users
        on inventory_items.initial_custodian_id = users.user_id
    where
        users.user_id is null
        and inventory_items.initial_custodian_id <> 'ORG'
        and {{ touched_item_or_user('inventory_items.item_id',
            'inventory_items.initial_custodian_id') }}

),

unknown_transfer_item as (

    select
        {{ exception_columns('UNKNOWN_REFERENCE', 'transfer_instants.recorded_at',
            sentence(['Transfer ', '=transfer_instants.transfer_id', ' names item ',
                '=transfer_instants.item_id', ', which does not exist.']),
            item_id='transfer_instants.item_id', transfer_id='transfer_instants.transfer_id') }}
    from transfer_instants
    left join inventory_items
        on transfer_instants.item_id = inventory_items.item_id
    where
        inventory_items.item_id is null
        and {{ only_touched('transfer_instants.item_id') }}

),

transfer_ends as (

    select
        transfer_id,
        item_id,
        recorded_at,
        from_custodian_id as custodian_id,
        'from' as transfer_end
    from transfer_instants

    union all

    select
        transfer_id,
        item_id,
        recorded_at,
        to_custodian_id as custodian_id,
        'to' as transfer_end
    from transfer_instants

),

unknown_transfer_user as (

    select
        {{ exception_columns('UNKNOWN_REFERENCE', 'transfer_ends.recorded_at',
            sentence(['Transfer ', '=transfer_ends.transfer_id', ' of item ',
                '=transfer_ends.item_id', ' names ', '=transfer_ends.custodian_id',
                ' as its ', '=transfer_ends.transfer_end', ' custodian, who is not a known user.']),
            item_id='transfer_ends.item_id', user_id='transfer_ends.custodian_id',
            transfer_id='transfer_ends.transfer_id') }}
    from transfer_ends
    left join users
        on transfer_ends.custodian_id = users.user_id
    where
        users.user_id is null
        and transfer_ends.custodian_id <> 'ORG'
        and {{ touched_item_or_user('transfer_ends.item_id', 'transfer_ends.custodian_id') }}

),

family_exceptions as (

    select * from unknown_item_product
    union all
    select * from unknown_item_custodian
    union all
    select * from unknown_transfer_item
    union all
    select * from unknown_transfer_user

),

final as (

    select
        {{ exception_id() }} as exception_id,
        family_exceptions.*,
        {{ through_file_id() }} as _through_file_id
    from family_exceptions

)

select * from final

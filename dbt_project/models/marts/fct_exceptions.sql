{#- One row per offending record and anomaly code (DOMAIN.md section 4). The key columns each
    code fills follow the key convention table of docs/architecture.md exactly. -#}
with

event_line_states as (

    select * from {{ ref('int_event_line_states') }}

),

event_lines as (

    select * from {{ ref('int_event_lines') }}

),

events as (

    select * from {{ ref('stg_events') }}

),

users as (

    select * from {{ ref('stg_users') }}

),

facilities as (

    select * from {{ ref('stg_facilities') }}

),

products as (

    select * from {{ ref('stg_products') }}

),

inventory_items as (

    select * from {{ ref('stg_inventory_items') }}

),

transfers as (

    select * from {{ ref('stg_transfers') }}

),

sharing_settings as (

    select * from {{ ref('stg_sharing_settings') }}

),

link_intervals as (

    select * from {{ ref('int_link_intervals') }}

),

custody_intervals as (

    select * from {{ ref('int_custody_intervals') }}

),

transfer_states as (

    select * from {{ ref('int_transfer_states') }}

),

-- line anomalies ---------------------------------------------------------------------------

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

outside_custody as (

    select
        {{ exception_columns('OUTSIDE_CUSTODY', 'line_at',
            sentence(['Representative ', '=representative_id', ' used item ', '=item_id',
                ' in case ', '=event_id', ' line ', '=line_no', ' while it was in the custody of ',
                '=custodian_at_use', ', which they had no right to use at the case date.']),
            event_id='event_id', line_no='line_no', item_id='item_id',
            user_id='representative_id', facility_id='facility_id') }}
    from event_line_states
    where
        event_type = 'CASE'
        and usage_class in ('SALE', 'NO_CHARGE')
        and access_path is null

),

double_billed as (

    select
        {{ exception_columns('DOUBLE_BILLED', 'line_at',
            sentence(['Case ', '=event_id', ' line ', '=line_no', ' billed ', '=billed_amount',
                ' for facility stock item ', '=item_id', ' already sold on stocking order ',
                '=stock_event_id', '. Facility-stock usage is non-sale: credit the facility.']),
            event_id='event_id', line_no='line_no', item_id='item_id',
            user_id='representative_id', facility_id='facility_id') }}
    from event_line_states
    where
        usage_class = 'NON_SALE_FACILITY_STOCK'
        and billed_amount > 0

),

unbilled_sale as (

    select
        {{ exception_columns('UNBILLED_SALE', 'line_at',
            sentence(['Event ', '=event_id', ' line ', '=line_no', ' sold item ', '=item_id',
                ' (expected ', '=expected_amount', ') but nothing was billed: invoice the facility.']),
            event_id='event_id', line_no='line_no', item_id='item_id',
            user_id='representative_id', facility_id='facility_id') }}
    from event_line_states
    where
        event_type = 'CASE'
        and usage_class = 'SALE'
        and billed_amount = 0

),

billed_amount_mismatch as (

    select
        {{ exception_columns('BILLED_AMOUNT_MISMATCH', 'line_at',
            sentence(['Event ', '=event_id', ' line ', '=line_no', ' billed ', '=billed_amount',
                ' for item ', '=item_id', ' but the expected amount (unit price x quantity) is ',
                '=expected_amount', '.']),
            event_id='event_id', line_no='line_no', item_id='item_id',
            user_id='representative_id', facility_id='facility_id') }}
    from event_line_states
    where
        event_type = 'CASE'
        and usage_class in ('SALE', 'NO_CHARGE')
        and billed_amount > 0
        and billed_amount <> expected_amount

),

ledger_running as (

    select
        *,
        sum(quantity) over (
            partition by item_id
            order by line_at, event_id, line_no
            rows between unbounded preceding and current row
        ) as quantity_sold_so_far
    from event_line_states
    where
        usage_class = 'SALE'
        and is_single_use

),

sold_twice as (

    select
        {{ exception_columns('SOLD_TWICE', 'line_at',
            sentence(['Single-use item ', '=item_id', ' is sold again on event ', '=event_id',
                ' line ', '=line_no', ': ', '=quantity_sold_so_far', ' units sold in total, but the item has only ',
                '=item_quantity', '.']),
            event_id='event_id', line_no='line_no', item_id='item_id',
            user_id='representative_id', facility_id='facility_id') }}
    from ledger_running
    where quantity_sold_so_far > item_quantity

),

inactive_item_lines as (

    select
        {{ exception_columns('INACTIVE_ITEM_USED', 'line_at',
            sentence(['Item ', '=item_id', ' was already inactive (used up, sold directly, returned or written off) when event ',
                '=event_id', ' line ', '=line_no', ' used it.']),
            event_id='event_id', line_no='line_no', item_id='item_id',
            user_id='representative_id', facility_id='facility_id') }}
    from event_line_states
    where
        is_submitted
        and is_consuming
        and not is_item_active

),

expired_item_used as (

    select
        {{ exception_columns('EXPIRED_ITEM_USED', 'line_at',
            sentence(['Item ', '=item_id', ' expired on ', '=expiration_date',
                ' but was used on event ', '=event_id', ' line ', '=line_no', ' on ',
                '=cast(line_at as date)', '.']),
            event_id='event_id', line_no='line_no', item_id='item_id',
            user_id='representative_id', facility_id='facility_id') }}
    from event_line_states
    where
        is_submitted
        and is_consuming
        and expiration_date is not null
        and cast(line_at as date) > expiration_date

),

so_not_in_custody as (

    select
        {{ exception_columns('SO_NOT_IN_CUSTODY', 'line_at',
            sentence(['Stocking order ', '=event_id', ' line ', '=line_no', ' sold item ',
                '=item_id', ' but at submission it was in the custody of ', '=custodian_at_use',
                ', not of the representative ', '=representative_id', '.']),
            event_id='event_id', line_no='line_no', item_id='item_id',
            user_id='representative_id', facility_id='facility_id') }}
    from event_line_states
    where
        event_type = 'STOCKING_ORDER'
        and is_submitted
        and is_consuming
        and coalesce(custodian_at_use <> representative_id, true)

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

-- event anomalies --------------------------------------------------------------------------

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

custodian_only_rep as (

    select
        {{ exception_columns('CUSTODIAN_ONLY_REP', 'events.event_date',
            sentence(['Case ', '=events.event_id', ' names custodian-only account ',
                '=events.representative_id', ' as representative; custodian-only accounts do not act in cases.']),
            event_id='events.event_id', user_id='events.representative_id',
            facility_id='events.facility_id') }}
    from events
    inner join users
        on events.representative_id = users.user_id
    where
        events.event_type = 'CASE'
        and users.is_custodian_only

),

-- custody and transfer anomalies -----------------------------------------------------------

inactive_item_transfers as (

    select
        {{ exception_columns('INACTIVE_ITEM_USED', 'transferred_at',
            sentence(['Transfer ', '=transfer_id', ' moved item ', '=item_id', ' on ',
                '=transferred_at', ', after the item became inactive on ', '=deactivated_at', '.']),
            item_id='item_id', transfer_id='transfer_id') }}
    from transfer_states
    where is_item_inactive

),

transfer_not_from_custodian as (

    select
        {{ exception_columns('TRANSFER_NOT_FROM_CUSTODIAN', 'transferred_at',
            sentence(['Transfer ', '=transfer_id', ' of item ', '=item_id', ' says it came from ',
                '=from_custodian_id', ' but the custodian then was ', '=custodian_before',
                '; custody still moved to ', '=to_custodian_id', '.']),
            item_id='item_id', transfer_id='transfer_id') }}
    from transfer_states
    where coalesce(from_custodian_id <> custodian_before, true)

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

non_custodial_holder as (

    select
        {{ exception_columns('NON_CUSTODIAL_HOLDER', 'custody_intervals.valid_from',
            sentence(['Item ', '=custody_intervals.item_id', ' is held by ',
                '=custody_intervals.custodian_id', ' whose role ', '=users.role',
                ' cannot hold inventory.']),
            item_id='custody_intervals.item_id', user_id='custody_intervals.custodian_id',
            transfer_id='custody_intervals.transfer_id') }}
    from custody_intervals
    inner join users
        on custody_intervals.custodian_id = users.user_id
    where users.role not in ('SALES', 'DISTRIBUTOR')

),

-- link anomalies ---------------------------------------------------------------------------

link_invalid_roles as (

    select
        {{ exception_columns('LINK_INVALID_ROLES', 'linked_at',
            sentence(['Link from ', '=distributor_user_id', ' (', '=distributor_role', ') to ',
                '=sales_user_id', ' (', '=sales_role',
                ') is not between a DISTRIBUTOR and a SALES user, so it shares nothing.']),
            user_id='distributor_user_id', related_user_id='sales_user_id') }}
    from link_intervals
    where
        (is_distributor_known and distributor_role <> 'DISTRIBUTOR')
        or (is_sales_user_known and sales_role <> 'SALES')

),

overlapping_links as (

    select distinct
        later.link_id,
        later.sales_user_id,
        later.distributor_user_id,
        later.linked_at
    from link_intervals as later
    inner join link_intervals as earlier
        on
            later.sales_user_id = earlier.sales_user_id
            and later.distributor_user_id <> earlier.distributor_user_id
            and (
                later.linked_at > earlier.linked_at
                or (
                    later.linked_at = earlier.linked_at
                    and later.distributor_user_id > earlier.distributor_user_id
                )
            )
            and (earlier.unlinked_at is null or later.linked_at < earlier.unlinked_at)
    where
        later.has_valid_roles
        and earlier.has_valid_roles
        -- an empty link (unlinked when linked) never overlaps anything
        and (later.unlinked_at is null or later.linked_at < later.unlinked_at)
        and (earlier.unlinked_at is null or earlier.linked_at < earlier.unlinked_at)

),

link_overlap as (

    select
        {{ exception_columns('LINK_OVERLAP', 'linked_at',
            sentence(['Sales user ', '=sales_user_id', ' was linked to distributor ',
                '=distributor_user_id', ' on ', '=linked_at',
                ' while still linked to another distributor.']),
            user_id='sales_user_id', related_user_id='distributor_user_id') }}
    from overlapping_links

),

-- unknown references -----------------------------------------------------------------------

transfer_instants as (

    select
        *,
        case
            when transfer_status = 'ACCEPTED' then effective_at else created_at
        end as recorded_at
    from transfers

),

unknown_line_event as (

    select
        {{ exception_columns('UNKNOWN_REFERENCE', 'updated_at',
            sentence(['Event line ', '=event_id', ' #', '=line_no',
                ' names event ', '=event_id', ', which does not exist.']),
            event_id='event_id', line_no='line_no') }}
    from event_lines
    where not is_event_known

),

unknown_line_item as (

    select
        {{ exception_columns('UNKNOWN_REFERENCE', 'coalesce(line_at, updated_at)',
            sentence(['Event ', '=event_id', ' line ', '=line_no', ' names item ', '=item_id',
                ', which does not exist.']),
            event_id='event_id', line_no='line_no', item_id='item_id') }}
    from event_lines
    where not is_item_known

),

unknown_event_representative as (

    select
        {{ exception_columns('UNKNOWN_REFERENCE', 'events.event_date',
            sentence(['Event ', '=events.event_id', ' names representative ',
                '=events.representative_id', ', who is not a known user.']),
            event_id='events.event_id', user_id='events.representative_id') }}
    from events
    left join users
        on events.representative_id = users.user_id
    where users.user_id is null

),

unknown_event_facility as (

    select
        {{ exception_columns('UNKNOWN_REFERENCE', 'events.event_date',
            sentence(['Event ', '=events.event_id', ' names facility ', '=events.facility_id',
                ', which does not exist.']),
            event_id='events.event_id', facility_id='events.facility_id') }}
    from events
    left join facilities
        on events.facility_id = facilities.facility_id
    where facilities.facility_id is null

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
    where products.catalog_number is null

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
    where inventory_items.item_id is null

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

),

unknown_link_user as (

    select
        {{ exception_columns('UNKNOWN_REFERENCE', 'linked_at',
            sentence(['Link from distributor ', '=distributor_user_id', ' to sales user ',
                '=sales_user_id', ' names an unknown ',
                "=case when is_distributor_known then 'sales user' else 'distributor' end",
                '.']),
            user_id='distributor_user_id', related_user_id='sales_user_id') }}
    from link_intervals
    where not is_distributor_known

    union all

    select
        {{ exception_columns('UNKNOWN_REFERENCE', 'linked_at',
            sentence(['Link from distributor ', '=distributor_user_id', ' to sales user ',
                '=sales_user_id', ' names an unknown sales user.']),
            user_id='distributor_user_id', related_user_id='sales_user_id') }}
    from link_intervals
    where not is_sales_user_known

),

unknown_sharing_user as (

    select
        {{ exception_columns('UNKNOWN_REFERENCE', 'sharing_settings.effective_at',
            sentence(['Sharing setting of ', '=sharing_settings.distributor_user_id',
                ' from ', '=sharing_settings.effective_at', ' names an unknown user.']),
            user_id='sharing_settings.distributor_user_id') }}
    from sharing_settings
    left join users
        on sharing_settings.distributor_user_id = users.user_id
    where users.user_id is null

),

all_exceptions as (

    select * from fs_wrong_facility
    union all
    select * from fs_ineligible_rep
    union all
    select * from outside_custody
    union all
    select * from double_billed
    union all
    select * from unbilled_sale
    union all
    select * from billed_amount_mismatch
    union all
    select * from sold_twice
    union all
    select * from mixed_case
    union all
    select * from inactive_item_lines
    union all
    select * from inactive_item_transfers
    union all
    select * from fs_transferred
    union all
    select * from transfer_not_from_custodian
    union all
    select * from so_not_in_custody
    union all
    select * from link_invalid_roles
    union all
    select * from link_overlap
    union all
    select * from non_custodial_holder
    union all
    select * from custodian_only_rep
    union all
    select * from expired_item_used
    union all
    select * from fs_returned
    union all
    select * from unknown_line_event
    union all
    select * from unknown_line_item
    union all
    select * from unknown_event_representative
    union all
    select * from unknown_event_facility
    union all
    select * from unknown_item_product
    union all
    select * from unknown_item_custodian
    union all
    select * from unknown_transfer_item
    union all
    select * from unknown_transfer_user
    union all
    select * from unknown_link_user
    union all
    select * from unknown_sharing_user

),

final as (

    select
        {{ dbt.hash(dbt.concat([
            "code", "'|'", "coalesce(event_id, '')", "'|'",
            "coalesce(cast(line_no as " ~ dbt.type_string() ~ "), '')", "'|'",
            "coalesce(item_id, '')", "'|'", "coalesce(user_id, '')", "'|'",
            "coalesce(related_user_id, '')", "'|'", "coalesce(facility_id, '')", "'|'",
            "coalesce(transfer_id, '')", "'|'", "coalesce(detail, '')", "'|'",
            "coalesce(cast(occurred_at as " ~ dbt.type_string() ~ "), '')"])) }}
            as exception_id,
        code,
        case
            when code in (
                'FS_WRONG_FACILITY', 'FS_INELIGIBLE_REP', 'OUTSIDE_CUSTODY',
                'DOUBLE_BILLED', 'UNBILLED_SALE', 'SOLD_TWICE', 'MIXED_CASE',
                'INACTIVE_ITEM_USED', 'LINK_INVALID_ROLES', 'UNKNOWN_REFERENCE'
            ) then 'high'
            when code in (
                'BILLED_AMOUNT_MISMATCH', 'FS_TRANSFERRED',
                'TRANSFER_NOT_FROM_CUSTODIAN', 'SO_NOT_IN_CUSTODY', 'NON_CUSTODIAL_HOLDER',
                'CUSTODIAN_ONLY_REP', 'EXPIRED_ITEM_USED'
            ) then 'medium'
            when code = 'LINK_OVERLAP' then 'low'
            when code = 'FS_RETURNED' then 'info'
        end as severity,
        event_id,
        line_no,
        item_id,
        user_id,
        related_user_id,
        facility_id,
        transfer_id,
        occurred_at,
        detail
    from all_exceptions

)

select * from final

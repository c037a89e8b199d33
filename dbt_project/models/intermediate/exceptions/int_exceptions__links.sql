{#- Link anomalies: a link whose known end has the wrong role (LINK_INVALID_ROLES, R-4), and a
    sales user linked to two distributors at once, flagged once on the later link
    (LINK_OVERLAP). Links naming unknown users: int_exceptions__references_sharing.
    Severities and key columns: seed exception_codes. -#}
with

link_intervals as (

    select * from {{ ref('int_link_intervals') }}

),

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

family_exceptions as (

    select * from link_invalid_roles
    union all
    select * from link_overlap

),

final as (

    select
        {{ exception_id() }} as exception_id,
        family_exceptions.*
    from family_exceptions

)

select * from final

{#- Who can reach whose custody, and when (R-4, R-5, R-6): one row per holder (the custodian,
    or the seller of facility stock), user, path and interval, so the paths at instant t are
    `(valid_from is null or valid_from <= t) and (valid_to is null or t < valid_to)`.
    OWN: every known user reaches its own custody, always (valid_from and valid_to null).
    DISTRIBUTOR_SHARE: a SALES user reaches a DISTRIBUTOR's custody while linked to it and
    sharing is on (on before the distributor's first sharing row). DISTRIBUTOR_OVER_REP: a
    full (not custodian-only) DISTRIBUTOR reaches a linked SALES user's custody while linked.
    ADMIN is left out (admins reach everything, always). Overlapping or touching intervals of
    one holder, user and path are merged. The same paths as macro access_path_candidates at
    any instant (its ranks never compete: each path needs other roles). -#}
with

users as (

    select * from {{ ref('stg_users') }}

),

link_intervals as (

    select * from {{ ref('int_link_intervals') }}

),

sharing_intervals as (

    select * from {{ ref('int_sharing_intervals') }}

),

own as (

    select
        user_id as holder_id,
        user_id,
        'OWN' as access_path,
        cast(null as {{ dbt.type_timestamp() }}) as valid_from,
        cast(null as {{ dbt.type_timestamp() }}) as valid_to
    from users

),

share_links as (

    select
        link_intervals.distributor_user_id,
        link_intervals.sales_user_id,
        link_intervals.linked_at,
        link_intervals.unlinked_at
    from link_intervals
    where
        link_intervals.distributor_role = 'DISTRIBUTOR'
        and link_intervals.sales_role = 'SALES'
        and (
            link_intervals.unlinked_at is null
            or link_intervals.linked_at < link_intervals.unlinked_at
        )

),

-- sharing is on before a distributor's first row and wherever a row does not switch it off
sharing_on as (

    select
        distributor_user_id,
        cast(null as {{ dbt.type_timestamp() }}) as on_from,
        min(valid_from) as on_to
    from sharing_intervals
    group by distributor_user_id

    union all

    select
        distributor_user_id,
        valid_from as on_from,
        valid_to as on_to
    from sharing_intervals
    where sharing_enabled or sharing_enabled is null

),

distributors_with_settings as (

    select distinct distributor_user_id from sharing_intervals

),

share_pieces as (

    select
        share_links.distributor_user_id as holder_id,
        share_links.sales_user_id as user_id,
        case
            when sharing_on.on_from is null or sharing_on.on_from < share_links.linked_at
                then share_links.linked_at
            else sharing_on.on_from
        end as valid_from,
        case
            when sharing_on.on_to is null then share_links.unlinked_at
            when share_links.unlinked_at is null then sharing_on.on_to
            when sharing_on.on_to < share_links.unlinked_at then sharing_on.on_to
            else share_links.unlinked_at
        end as valid_to
    from share_links
    inner join sharing_on
        on share_links.distributor_user_id = sharing_on.distributor_user_id

    union all

    select
        share_links.distributor_user_id as holder_id,
        share_links.sales_user_id as user_id,
        share_links.linked_at as valid_from,
        share_links.unlinked_at as valid_to
    from share_links
    left join distributors_with_settings
        on share_links.distributor_user_id = distributors_with_settings.distributor_user_id
    where distributors_with_settings.distributor_user_id is null

),

distributor_share as (

    select
        holder_id,
        user_id,
        'DISTRIBUTOR_SHARE' as access_path,
        valid_from,
        valid_to
    from share_pieces
    where valid_to is null or valid_from < valid_to

),

distributor_over_rep as (

    select
        share_links.sales_user_id as holder_id,
        share_links.distributor_user_id as user_id,
        'DISTRIBUTOR_OVER_REP' as access_path,
        share_links.linked_at as valid_from,
        share_links.unlinked_at as valid_to
    from share_links
    inner join users
        on share_links.distributor_user_id = users.user_id
    where not users.is_custodian_only

),

link_paths as (

    select * from distributor_share
    union all
    select * from distributor_over_rep

),

-- merge overlapping or touching intervals of one holder, user and path (several links)
ordered as (

    select
        *,
        max(coalesce(valid_to, {{ open_end() }})) over (
            partition by holder_id, user_id, access_path
            order by valid_from, valid_to
            rows between unbounded preceding and 1 preceding
        ) as reach_before
    from link_paths

),

islands as (

    select
        *,
        sum(case when reach_before is null or valid_from > reach_before then 1 else 0 end) over (
            partition by holder_id, user_id, access_path
            order by valid_from, valid_to
            rows between unbounded preceding and current row
        ) as island_no
    from ordered

),

merged as (

    select
        holder_id,
        user_id,
        access_path,
        min(valid_from) as valid_from,
        max(coalesce(valid_to, {{ open_end() }})) as reach
    from islands
    group by holder_id, user_id, access_path, island_no

),

all_paths as (

    select * from own

    union all

    select
        holder_id,
        user_id,
        access_path,
        valid_from,
        case when reach < {{ open_end() }} then reach end as valid_to
    from merged

),

final as (

    select
        {{ dbt.concat([
            'holder_id', "'|'", 'user_id', "'|'", 'access_path', "'|'",
            "coalesce(cast(valid_from as " ~ dbt.type_string() ~ "), '-')"
        ]) }} as path_interval_id,
        holder_id,
        user_id,
        access_path,
        valid_from,
        valid_to
    from all_paths

)

select * from final

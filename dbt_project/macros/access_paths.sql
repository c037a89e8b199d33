{#-
  Access paths of rules R-5 / R-6 (docs/rules.md), evaluated at each request's own instant.

  `requests` is a relation or CTE name with columns:
      request_id (unique), actor_id (U, the acting user), target_id (C, the custodian or,
      for facility stock, the seller) and checked_at (t).
  Returns one row per (request_id, path) that holds, with path_rank
  1 OWN, 2 DISTRIBUTOR_SHARE, 3 DISTRIBUTOR_OVER_REP, 4 ADMIN. There is no other path (R-6):
  in particular two SALES users never reach each other, and a custodian-only distributor
  never acts on its reps' custody. Roles are the users' current roles (users carry no history).
-#}
{% macro access_path_candidates(requests, users, links, sharing) -%}

    select r.request_id, 1 as path_rank
    from {{ requests }} as r
    where r.actor_id = r.target_id

    union all

    -- DISTRIBUTOR_SHARE: C is a DISTRIBUTOR with sharing on at t, U a SALES user linked to C at t
    select r.request_id, 2 as path_rank
    from {{ requests }} as r
    inner join {{ users }} as custodian
        on custodian.user_id = r.target_id
        and custodian.role = 'DISTRIBUTOR'
    inner join {{ users }} as actor
        on actor.user_id = r.actor_id
        and actor.role = 'SALES'
    inner join {{ links }} as link
        on link.distributor_user_id = r.target_id
        and link.sales_user_id = r.actor_id
        and link.linked_at <= r.checked_at
        and (link.unlinked_at is null or r.checked_at < link.unlinked_at)
    left join {{ sharing }} as sharing_off
        on sharing_off.distributor_user_id = r.target_id
        and sharing_off.sharing_enabled = false
        and sharing_off.valid_from <= r.checked_at
        and (sharing_off.valid_to is null or r.checked_at < sharing_off.valid_to)
    where sharing_off.distributor_user_id is null

    union all

    -- DISTRIBUTOR_OVER_REP: U a full (not custodian-only) DISTRIBUTOR, C a SALES user linked to U
    select r.request_id, 3 as path_rank
    from {{ requests }} as r
    inner join {{ users }} as actor
        on actor.user_id = r.actor_id
        and actor.role = 'DISTRIBUTOR'
        and actor.is_custodian_only = false
    inner join {{ users }} as custodian
        on custodian.user_id = r.target_id
        and custodian.role = 'SALES'
    inner join {{ links }} as link
        on link.distributor_user_id = r.actor_id
        and link.sales_user_id = r.target_id
        and link.linked_at <= r.checked_at
        and (link.unlinked_at is null or r.checked_at < link.unlinked_at)

    union all

    -- ADMIN: U is PRIMARY_ADMIN, ADMIN or OPERATIONS
    select r.request_id, 4 as path_rank
    from {{ requests }} as r
    inner join {{ users }} as actor
        on actor.user_id = r.actor_id
        and actor.role in ('PRIMARY_ADMIN', 'ADMIN', 'OPERATIONS')

{%- endmacro %}


{% macro access_path_name(path_rank) -%}
    case {{ path_rank }}
        when 1 then 'OWN'
        when 2 then 'DISTRIBUTOR_SHARE'
        when 3 then 'DISTRIBUTOR_OVER_REP'
        when 4 then 'ADMIN'
    end
{%- endmacro %}

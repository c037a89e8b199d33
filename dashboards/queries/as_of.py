"""Point in time: facility stock, and who could use an item, as they stood at a chosen instant.

Read off the interval marts (valid_from inclusive, valid_to exclusive, null = still so), so any
instant is answered without a rebuild: `fct_facility_stock_intervals`,
`fct_facility_stock_access_intervals`, `fct_access_path_intervals`, `fct_custody_intervals`;
the span of the data from `dim_reference_instant`. A date means the end of that day; an instant
before the first record is refused (AsOfError); one after the reference instant is answered as
of the reference instant, with a note (docs/rules.md, "As of any date").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import pandas as pd

from dashboards.queries.connection import filter_values, query, scalar_row

EXPIRING_WINDOW_DAYS = 90  # as rpt_stock_levels (dbt var expiring_window_days)

# at instant $t, for an interval mart aliased `x`
_AT = "x.valid_from <= $t::timestamp and (x.valid_to is null or $t::timestamp < x.valid_to)"
_AT_OPEN = (
    "(x.valid_from is null or x.valid_from <= $t::timestamp)"
    " and (x.valid_to is null or $t::timestamp < x.valid_to)"
)


class AsOfError(ValueError):
    """An instant the warehouse cannot answer for (before any data, or no data at all)."""


@dataclass(frozen=True)
class Instant:
    at: datetime  # the instant evaluated
    requested: date | datetime
    note: str | None = None  # said on the page (e.g. a date after the newest data)


def data_span() -> dict[str, Any]:
    """first_seen_at and as_of (the reference instant) of the build."""
    return scalar_row("select first_seen_at, as_of from marts.dim_reference_instant")


def _timestamp(value: Any) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).to_pydatetime()


def resolve(requested: date | datetime | None) -> Instant:
    """The instant to evaluate for a requested date (its end) or instant; None = now."""
    span = data_span()
    first, newest = _timestamp(span.get("first_seen_at")), _timestamp(span.get("as_of"))
    if first is None or newest is None:
        raise AsOfError("The warehouse holds no data yet: there is no date to look at.")
    if requested is None:
        return Instant(newest, newest.date())
    if isinstance(requested, datetime):
        at = requested.replace(tzinfo=None)
    elif isinstance(requested, date):
        at = datetime.combine(requested, time.max)
    else:
        raise AsOfError(f"{requested!r} is not a date")
    if at < first:
        raise AsOfError(
            f"{requested} is before any data: the first record is at {first:%Y-%m-%d %H:%M}. "
            f"Pick {first:%Y-%m-%d} or later."
        )
    if at > newest:
        # the end of the newest data's own day is simply "now"; a later day gets a note
        is_day = not isinstance(requested, datetime)
        later = requested > newest.date() if is_day else True
        note = (
            f"{requested} is after the newest data ({newest:%Y-%m-%d %H:%M}): nothing is "
            "known after it, so this is the state then."
            if later
            else None
        )
        return Instant(newest, requested, note)
    return Instant(at, requested)


def stock_at(t: datetime, facilities: Sequence[str] = ()) -> pd.DataFrame:
    """The facility-stock items on hand at t (one row per item)."""
    return query(
        f"""
        select x.facility_id, x.catalog_number, x.item_id, x.lot_number, x.serial_number,
               x.expiration_date, x.seller_id, x.stocking_order_id, x.sold_at,
               x.quantity_on_hand, x.unit_price, x.value_on_hand, x.valid_from, x.valid_to
        from marts.fct_facility_stock_intervals as x
        where {_AT}
          and ($facilities::varchar[] is null
               or list_contains($facilities::varchar[], x.facility_id))
        order by x.facility_id, x.catalog_number, x.item_id
        """,
        {"t": t, "facilities": filter_values(facilities)},
    )


def stock_levels_at(t: datetime, facilities: Sequence[str] = ()) -> pd.DataFrame:
    """rpt_stock_levels at t (the same columns, expiry judged from t), with names."""
    return query(
        f"""
        with on_hand as (
            select x.* from marts.fct_facility_stock_intervals as x
            where {_AT}
              and ($facilities::varchar[] is null
                   or list_contains($facilities::varchar[], x.facility_id))
        ),
        access as (
            select x.item_id, x.user_id from marts.fct_facility_stock_access_intervals as x
            where {_AT}
        ),
        levels as (
            select facility_id, catalog_number,
                   sum(quantity_on_hand)::bigint as quantity_on_hand,
                   sum(value_on_hand) as value_on_hand,
                   count(*)::bigint as items,
                   min(sold_at) as oldest_sold_at,
                   min(expiration_date) as next_expiration,
                   coalesce(sum(quantity_on_hand) filter (
                       where expiration_date <= ($t::timestamp
                                                 + to_days($window::integer))::date
                   ), 0)::bigint as quantity_expiring_90d
            from on_hand group by facility_id, catalog_number
        ),
        eligible as (
            select on_hand.facility_id, on_hand.catalog_number,
                   count(distinct access.user_id)::bigint as eligible_users,
                   string_agg(distinct access.user_id, ', ' order by access.user_id)
                       as eligible_user_ids
            from on_hand join access on access.item_id = on_hand.item_id
            group by on_hand.facility_id, on_hand.catalog_number
        )
        select levels.facility_id, fac.facility_name, levels.catalog_number,
               prod.product_description, prod.product_line, levels.quantity_on_hand,
               levels.value_on_hand, levels.items, levels.oldest_sold_at,
               levels.next_expiration, levels.quantity_expiring_90d,
               coalesce(eligible.eligible_users, 0)::bigint as eligible_users,
               eligible.eligible_user_ids
        from levels
        left join eligible using (facility_id, catalog_number)
        left join marts.dim_facilities as fac on fac.facility_id = levels.facility_id
        left join marts.dim_products as prod on prod.catalog_number = levels.catalog_number
        order by levels.facility_id, levels.catalog_number
        """,
        {"t": t, "facilities": filter_values(facilities), "window": EXPIRING_WINDOW_DAYS},
    )


def stock_access_at(t: datetime, facilities: Sequence[str] = ()) -> pd.DataFrame:
    """Who could use each on-hand facility-stock item at t, and by which path."""
    return query(
        f"""
        select x.item_id, x.facility_id, x.seller_id, x.user_id, u.full_name, u.role,
               x.access_path, x.valid_from, x.valid_to
        from marts.fct_facility_stock_access_intervals as x
        left join marts.dim_users as u on u.user_id = x.user_id
        where {_AT}
          and ($facilities::varchar[] is null
               or list_contains($facilities::varchar[], x.facility_id))
        order by x.facility_id, x.item_id, x.access_path, x.user_id
        """,
        {"t": t, "facilities": filter_values(facilities)},
    )


def item_access_at(item_id: str, t: datetime) -> dict[str, Any]:
    """Who could use one item at t, and by which path.

    Returns {"state", "explanation", "holder_id", "access"}: state is NOT_YET (no custody
    record by t), INACTIVE (deactivated at or before t), FACILITY_STOCK (on hand: judged
    against the seller, admins and custodian-only users left out, as for facility stock now)
    or CUSTODY (judged against the custodian at t, every R-5 path but ADMIN)."""
    params = {"item": item_id, "t": t}
    stock = query(
        f"""
        select x.seller_id, x.facility_id, x.stocking_order_id, x.quantity_on_hand
        from marts.fct_facility_stock_intervals as x
        where x.item_id = $item and {_AT}
        """,
        params,
    )
    if not stock.empty:
        row = stock.iloc[0]
        access = query(
            f"""
            select x.user_id, u.full_name, u.role, x.access_path, x.valid_from, x.valid_to
            from marts.fct_facility_stock_access_intervals as x
            left join marts.dim_users as u on u.user_id = x.user_id
            where x.item_id = $item and {_AT}
            order by x.access_path, x.user_id
            """,
            params,
        )
        return {
            "state": "FACILITY_STOCK",
            "holder_id": row.seller_id,
            "explanation": (
                f"Facility stock at {row.facility_id} ({int(row.quantity_on_hand)} on hand, "
                f"stocking order {row.stocking_order_id}): judged against the seller "
                f"{row.seller_id}. Admins reach it too; custodian-only accounts never act."
            ),
            "access": access,
        }
    status = scalar_row(
        "select deactivated_at, deactivation_reason from marts.fct_inventory_status "
        "where item_id = $item",
        {"item": item_id},
    )
    deactivated = _timestamp(status.get("deactivated_at"))
    empty = pd.DataFrame(
        columns=["user_id", "full_name", "role", "access_path", "valid_from", "valid_to"]
    )
    custody = scalar_row(
        f"""
        select x.custodian_id from marts.fct_custody_intervals as x
        where x.item_id = $item and {_AT}
        order by x.valid_from desc limit 1
        """,
        params,
    )
    if not custody:
        return {
            "state": "NOT_YET",
            "holder_id": None,
            "explanation": f"Item {item_id} had no custodian yet at {t:%Y-%m-%d %H:%M}.",
            "access": empty,
        }
    if deactivated is not None and deactivated <= t:
        return {
            "state": "INACTIVE",
            "holder_id": custody["custodian_id"],
            "explanation": (
                f"Inactive since {deactivated:%Y-%m-%d %H:%M} "
                f"({status.get('deactivation_reason')}): nobody can use it (R-18)."
            ),
            "access": empty,
        }
    holder = custody["custodian_id"]
    access = query(
        f"""
        select x.user_id, u.full_name, u.role, x.access_path, x.valid_from, x.valid_to
        from marts.fct_access_path_intervals as x
        left join marts.dim_users as u on u.user_id = x.user_id
        where x.holder_id = $holder and {_AT_OPEN}
        order by x.access_path, x.user_id
        """,
        {"holder": holder, "t": t},
    )
    return {
        "state": "CUSTODY",
        "holder_id": holder,
        "explanation": (
            f"In the custody of {holder}: judged against the custodian (R-5). Admins "
            "(PRIMARY_ADMIN, ADMIN, OPERATIONS) reach it too."
        ),
        "access": access,
    }

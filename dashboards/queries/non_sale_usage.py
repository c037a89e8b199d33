"""Non-sale usage: facility stock consumed in cases, over time, by facility and rep.

Read from fct_non_sale_usage: the non-sale lines of fct_event_lines, each already carrying
its item's fct_facility_stock record (stocking order, seller, sale date, price) and item
attributes. A line's value is quantity x that stocking-order unit_price.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dashboards.queries import connection
from dashboards.queries.connection import filter_values, query, scalar_row


def _where(alias: str, facilities, reps, date_from, date_to) -> tuple[str, dict[str, Any]]:
    """The `where` clause of the filters that are set (on the relation aliased ``alias``), and
    their query parameters. Only the filters that are set are written into the query."""
    params = {
        name: value
        for name, value in _usage_params(facilities, reps, date_from, date_to).items()
        if value is not None
    }
    conditions = []
    if "facilities" in params:
        conditions.append(f"list_contains($facilities::varchar[], {alias}.facility_id)")
    if "reps" in params:
        conditions.append(f"list_contains($reps::varchar[], {alias}.representative_id)")
    if "date_from" in params:
        conditions.append(f"{alias}.event_date >= $date_from::date")
    if "date_to" in params:
        conditions.append(f"{alias}.event_date < $date_to::date + 1")
    return (f"where {' and '.join(conditions)}" if conditions else ""), params


def _non_sale_filtered(facilities, reps, date_from, date_to) -> tuple[str, dict[str, Any]]:
    """The matching non-sale lines, and the query parameters."""
    where, params = _where("u", facilities, reps, date_from, date_to)
    return f"select * from marts.fct_non_sale_usage as u {where}", params


_NON_SALE_ORDER = "order by event_date desc, event_id, line_no"


def _non_sale_lines(args: dict[str, Any], limit: int | None) -> tuple[str, dict[str, Any]]:
    """The register: the matching lines (for the capped table, the newest first, cut before the
    names are joined) with facility and representative names and the value of each line."""
    lines, params = _non_sale_filtered(**args)
    if limit is not None:
        lines += f" {_NON_SALE_ORDER} limit $limit"
        params["limit"] = limit
    sql = f"""
        select
            u.event_date,
            u.event_id,
            u.line_no,
            u.facility_id,
            fac.facility_name,
            u.representative_id,
            rep.full_name as representative_name,
            u.item_id,
            u.stocking_order_id,
            u.seller_id,
            u.sold_at,
            u.catalog_number,
            u.lot_number,
            u.serial_number,
            u.quantity,
            u.unit_price,
            u.quantity * u.unit_price as value,
            u.access_path,
            u.custodian_at_use,
            u.billed_amount,
            date_trunc('month', u.event_date)::date as month
        from ({lines}) as u
        left join marts.dim_facilities as fac on fac.facility_id = u.facility_id
        left join marts.dim_users as rep on rep.user_id = u.representative_id
        {_NON_SALE_ORDER}
        """
    return sql, params


def _usage_params(facilities, reps, date_from, date_to) -> dict[str, Any]:
    return {
        "facilities": filter_values(facilities),
        "reps": filter_values(reps),
        "date_from": date_from,
        "date_to": date_to,
    }


def non_sale_lines(facilities=(), reps=(), date_from=None, date_to=None) -> pd.DataFrame:
    """The newest DETAIL_ROW_CAP non-sale case lines, with the stocking order each item came
    from."""
    args = dict(facilities=facilities, reps=reps, date_from=date_from, date_to=date_to)
    return query(*_non_sale_lines(args, connection.DETAIL_ROW_CAP))


def non_sale_lines_all(facilities=(), reps=(), date_from=None, date_to=None) -> pd.DataFrame:
    """Every matching non-sale case line, same columns and order (CSV download; uncached)."""
    args = dict(facilities=facilities, reps=reps, date_from=date_from, date_to=date_to)
    return query(*_non_sale_lines(args, None), cached=False)


def non_sale_totals(facilities=(), reps=(), date_from=None, date_to=None) -> dict[str, Any]:
    """Units, value at stocking-order price and line count of the matching non-sale lines."""
    lines, params = _non_sale_filtered(facilities, reps, date_from, date_to)
    return scalar_row(
        f"""
        select
            coalesce(sum(u.quantity), 0)::bigint as units,
            coalesce(sum(u.quantity * u.unit_price), 0) as value,
            count(*) as lines
        from ({lines}) as u
        """,
        params,
    )


def non_sale_by_month(facilities=(), reps=(), date_from=None, date_to=None) -> pd.DataFrame:
    """Units, value and lines per month, facility and representative (aggregated, then the
    representative's name joined: one per id). Without a date range the build's monthly
    aggregate (rpt_non_sale_monthly, same grain) is read; a date range may cut a month, so it
    aggregates the matching lines."""
    if date_from is None and date_to is None:
        monthly, params = _non_sale_monthly(facilities, reps)
    else:
        monthly, params = _non_sale_monthly_of_lines(facilities, reps, date_from, date_to)
    return query(
        f"""
        with monthly as ({monthly})
        select
            monthly.month,
            monthly.facility_id,
            monthly.representative_id,
            rep.full_name as representative_name,
            monthly.units,
            monthly.value,
            monthly.lines
        from monthly
        left join marts.dim_users as rep on rep.user_id = monthly.representative_id
        order by monthly.month, monthly.facility_id, monthly.representative_id
        """,
        params,
    )


def _non_sale_monthly(facilities, reps) -> tuple[str, dict[str, Any]]:
    where, params = _where("m", facilities, reps, None, None)
    sql = f"""
            select m.month, m.facility_id, m.representative_id, m.units,
                   m.stock_value as value, m.line_count as lines
            from marts.rpt_non_sale_monthly as m
            {where}
    """
    return sql, params


def _non_sale_monthly_of_lines(facilities, reps, date_from, date_to) -> tuple[str, dict[str, Any]]:
    lines, params = _non_sale_filtered(facilities, reps, date_from, date_to)
    sql = f"""
            select
                date_trunc('month', u.event_date)::date as month,
                u.facility_id,
                u.representative_id,
                sum(u.quantity)::bigint as units,
                sum(u.quantity * u.unit_price) as value,
                count(*) as lines
            from ({lines}) as u
            group by month, u.facility_id, u.representative_id
    """
    return sql, params


def representatives_with_non_sale_usage() -> list[str]:
    df = query(
        "select distinct representative_id from marts.fct_non_sale_usage "
        "where representative_id is not null order by 1"
    )
    return df["representative_id"].tolist()

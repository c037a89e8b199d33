"""Sales and commission by representative (the sales ledger, fct_sales)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd

from dashboards.queries.connection import filter_values, query


def sales_by_rep(date_from: date | None = None, date_to: date | None = None) -> pd.DataFrame:
    return query(
        """
        select s.representative_id, u.full_name, u.role, u.region, u.commission_rate,
               count(*) as lines, sum(s.quantity)::bigint as units, sum(s.amount) as amount,
               sum(s.commission_amount) as commission_amount
        from marts.fct_sales as s
        left join marts.dim_users as u on u.user_id = s.representative_id
        where ($date_from::date is null or s.sold_at >= $date_from::date)
          and ($date_to::date is null or s.sold_at < $date_to::date + 1)
        group by all
        order by amount desc, s.representative_id
        """,
        {"date_from": date_from, "date_to": date_to},
    )


def sales_lines(
    reps: Sequence[str] = (), date_from: date | None = None, date_to: date | None = None
) -> pd.DataFrame:
    return query(
        """
        select s.sold_at, s.event_id, s.line_no, s.event_type, s.facility_id,
               s.representative_id, u.full_name as representative_name, s.item_id,
               s.catalog_number, s.quantity, s.amount, s.commission_amount
        from marts.fct_sales as s
        left join marts.dim_users as u on u.user_id = s.representative_id
        where ($reps::varchar[] is null or list_contains($reps::varchar[], s.representative_id))
          and ($date_from::date is null or s.sold_at >= $date_from::date)
          and ($date_to::date is null or s.sold_at < $date_to::date + 1)
        order by s.sold_at desc, s.event_id, s.line_no
        """,
        {"reps": filter_values(reps), "date_from": date_from, "date_to": date_to},
    )


def sales_by_month() -> pd.DataFrame:
    """Revenue and commission per month and representative (rpt_sales_monthly: the ledger
    aggregated by the build, not at each page load)."""
    return query(
        """
        select month, representative_id, amount, commission_amount
        from marts.rpt_sales_monthly
        order by month, representative_id
        """
    )


def sales_months() -> list[date]:
    """Months with sales-ledger lines, newest first."""
    df = query(
        "select distinct month from marts.rpt_sales_monthly "
        "where month is not null order by month desc"
    )
    return [pd.Timestamp(m).date() for m in df["month"]]


def month_bounds(month: date | None) -> tuple[date | None, date | None]:
    """First and last day of `month` (None, None for no month)."""
    if month is None:
        return None, None
    first = pd.Timestamp(month).replace(day=1)
    return first.date(), (first + pd.offsets.MonthEnd(1)).date()

"""Finance reconciliation: revenue counted once, nothing billed twice, nothing left unbilled."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd

from dashboards.queries.connection import filter_values, query


def reconciliation(
    facilities: Sequence[str] = (), month_from: date | None = None, month_to: date | None = None
) -> pd.DataFrame:
    return query(
        """
        select r.month, r.facility_id, f.facility_name,
               r.stocking_order_revenue, r.case_sale_revenue, r.expected_revenue,
               r.billed_revenue, r.billed_revenue - r.expected_revenue as billed_minus_expected,
               r.double_billed_amount, r.unbilled_amount, r.non_sale_units, r.non_sale_value,
               r.returned_value
        from marts.rpt_reconciliation_monthly as r
        left join marts.dim_facilities as f on f.facility_id = r.facility_id
        where ($facilities::varchar[] is null
               or list_contains($facilities::varchar[], r.facility_id))
          and ($month_from::date is null or r.month >= $month_from::date)
          and ($month_to::date is null or r.month <= $month_to::date)
        order by r.month desc, r.facility_id
        """,
        {"facilities": filter_values(facilities), "month_from": month_from, "month_to": month_to},
    )


BILLING_CODES = {"DOUBLE_BILLED": "double billed", "UNBILLED_SALE": "unbilled sale"}


def billing_problem_lines(
    codes: Sequence[str] = tuple(BILLING_CODES),
    facilities: Sequence[str] = (),
    month_from: date | None = None,
    month_to: date | None = None,
) -> pd.DataFrame:
    """Double-billed and unbilled lines (fct_exceptions) with their line from fct_event_lines."""
    return query(
        """
        select
            x.code,
            date_trunc('month', l.event_date)::date as month,
            l.event_id, l.line_no, l.event_type, l.event_date, l.facility_id,
            l.representative_id, u.full_name as representative_name, l.item_id, l.quantity,
            l.usage_class, l.access_path, l.custodian_at_use, l.expected_amount,
            l.billed_amount, fs.stocking_order_id, x.detail
        from marts.fct_exceptions as x
        join marts.fct_event_lines as l on l.event_id = x.event_id and l.line_no = x.line_no
        left join marts.fct_facility_stock as fs on fs.item_id = l.item_id
        left join marts.dim_users as u on u.user_id = l.representative_id
        where list_contains($codes::varchar[], x.code)
          and ($facilities::varchar[] is null
               or list_contains($facilities::varchar[], l.facility_id))
          and ($month_from::date is null or l.event_date >= $month_from::date)
          and ($month_to::date is null
               or l.event_date < $month_to::date + interval 1 month)
        order by l.event_date desc, l.event_id, l.line_no
        """,
        {
            "codes": list(codes),
            "facilities": filter_values(facilities),
            "month_from": month_from,
            "month_to": month_to,
        },
    )

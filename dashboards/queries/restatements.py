"""Month-end closes and their restatements (the finance page's last section).

The closes themselves are the append-only record `custodia close` writes
(``audit.closed_months``, read like the data-quality page reads the ingestion audit); what
changed in them since is the mart ``marts.rpt_restatements``, recomputed by every build.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd

from dashboards.queries.connection import filter_values, query


def closed_months(month_from: date | None = None, month_to: date | None = None) -> pd.DataFrame:
    """One row per closed month: who closed it, when, through which delivery, and how many of
    its figures (month x facility x figure) were restated since."""
    return query(
        """
        with restated as (
            select month, count(*) as restated_figures
            from marts.rpt_restatements
            group by month
        )
        select c.month, min(c.closed_by) as closed_by, min(c.closed_at) as closed_at,
               min(c.delivery_watermark) as delivery_watermark,
               count(*) as facilities_closed,
               coalesce(min(r.restated_figures), 0) as restated_figures
        from audit.closed_months as c
        left join restated as r on r.month = c.month
        where ($month_from::date is null or c.month >= $month_from::date)
          and ($month_to::date is null or c.month <= $month_to::date)
        group by c.month
        order by c.month desc
        """,
        {"month_from": month_from, "month_to": month_to},
    )


def restatements(
    facilities: Sequence[str] = (), month_from: date | None = None, month_to: date | None = None
) -> pd.DataFrame:
    """The restated figures of closed months, with the lines and deliveries that moved them.

    The values are named so the page's table shows them as plain numbers, not dollars: one
    figure, non_sale_units, counts units."""
    return query(
        """
        select r.month, r.facility_id, f.facility_name, r.figure,
               r.closed_value as at_close, r.current_value as now, r.difference,
               r.lines_moved, r.moved_by_lines, r.late_deliveries,
               r.closed_by, r.closed_at, r.delivery_watermark
        from marts.rpt_restatements as r
        left join marts.dim_facilities as f on f.facility_id = r.facility_id
        where ($facilities::varchar[] is null
               or list_contains($facilities::varchar[], r.facility_id))
          and ($month_from::date is null or r.month >= $month_from::date)
          and ($month_to::date is null or r.month <= $month_to::date)
        order by r.month desc, r.facility_id, r.figure
        """,
        {"facilities": filter_values(facilities), "month_from": month_from, "month_to": month_to},
    )

"""Price variance of the sales ledger: each line's unit price against the product's list price
at the line's instant (marts.fct_price_variance, marts.rpt_price_variance_summary)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd

from dashboards.queries.connection import filter_values, query

# what the summary can be grouped by: label -> column of rpt_price_variance_summary
DIMENSIONS = {
    "Facility": "facility_id",
    "Representative": "representative_id",
    "Product line": "product_line",
}


def summary(dimension: str, facilities: Sequence[str] = ()) -> pd.DataFrame:
    """The summary mart grouped by one of DIMENSIONS (whole ledger of the facilities)."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown grouping {dimension!r}; expected one of {', '.join(DIMENSIONS)}")
    column = DIMENSIONS[dimension]  # from the fixed mapping above, never from the user
    return query(
        f"""
        select {column} as {column},
               sum(ledger_lines)::bigint as ledger_lines,
               sum(quantity)::bigint as quantity,
               sum(sold_amount) as sold_amount,
               sum(list_amount) as list_amount,
               sum(variance_amount) as variance_amount,
               case when sum(list_amount) > 0
                    then 100 * sum(variance_amount) / sum(list_amount) end as variance_pct,
               sum(lines_below_list)::bigint as lines_below_list,
               sum(lines_without_list_price)::bigint as lines_without_list_price
        from marts.rpt_price_variance_summary
        where ($facilities::varchar[] is null
               or list_contains($facilities::varchar[], facility_id))
        group by {column}
        order by variance_amount, {column}
        """,
        {"facilities": filter_values(facilities)},
    )


def summary_rows(facilities: Sequence[str] = ()) -> pd.DataFrame:
    """The summary mart as it is (facility x representative x product line)."""
    return query(
        """
        select * from marts.rpt_price_variance_summary
        where ($facilities::varchar[] is null
               or list_contains($facilities::varchar[], facility_id))
        order by variance_amount, facility_id, representative_id, product_line
        """,
        {"facilities": filter_values(facilities)},
    )


def check_threshold(threshold_pct: float) -> float:
    """A threshold in percent, 0 to 100; anything else is refused with a clear message."""
    try:
        value = float(threshold_pct)
    except (TypeError, ValueError):
        raise ValueError(f"threshold {threshold_pct!r} is not a number of percent") from None
    if not (0.0 <= value <= 100.0):
        raise ValueError(f"threshold {threshold_pct!r} % is out of range (0 to 100)")
    return value


def lines_below_list(
    threshold_pct: float,
    facilities: Sequence[str] = (),
    month_from: date | None = None,
    month_to: date | None = None,
) -> pd.DataFrame:
    """Ledger lines sold below list by more than threshold_pct percent (variance_pct < -X)."""
    threshold = check_threshold(threshold_pct)
    return query(
        """
        select
            v.event_id, v.line_no, v.event_type, v.sold_at, v.facility_id, v.representative_id,
            u.full_name as representative_name, v.catalog_number, v.product_line, v.quantity,
            v.unit_price, v.list_price, v.list_price_valid_from, v.list_price_basis,
            v.unit_variance, v.variance_amount, v.variance_pct
        from marts.fct_price_variance as v
        left join marts.dim_users as u on u.user_id = v.representative_id
        where v.variance_pct < -$threshold::double
          and ($facilities::varchar[] is null
               or list_contains($facilities::varchar[], v.facility_id))
          and ($month_from::date is null or v.sold_at >= $month_from::date)
          and ($month_to::date is null
               or v.sold_at < $month_to::date + interval 1 month)
        order by v.variance_pct, v.sold_at desc, v.event_id, v.line_no
        """,
        {
            "threshold": threshold,
            "facilities": filter_values(facilities),
            "month_from": month_from,
            "month_to": month_to,
        },
    )

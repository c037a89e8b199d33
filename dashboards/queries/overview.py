"""Overview: stock on hand and the month's usage and billing, at a glance.

The overview page also shows exceptions by severity (`exceptions.exceptions_by_severity`), the
build (`connection.build_info`) and its deliveries (`data_quality.deliveries`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from dashboards.queries.connection import scalar_row


def stock_on_hand_totals() -> dict[str, Any]:
    return scalar_row(
        """
        select
            coalesce(sum(quantity_on_hand), 0)::bigint as quantity_on_hand,
            coalesce(sum(value_on_hand), 0) as value_on_hand,
            count(*) filter (where quantity_on_hand > 0) as items_on_hand,
            count(distinct facility_id) filter (where quantity_on_hand > 0) as facilities
        from marts.fct_facility_stock
        """
    )


def reconciliation_totals(month: date | None = None) -> dict[str, Any]:
    """Sums of rpt_reconciliation_monthly, for one month or (None) all months."""
    return scalar_row(
        """
        select
            coalesce(sum(stocking_order_revenue), 0) as stocking_order_revenue,
            coalesce(sum(case_sale_revenue), 0) as case_sale_revenue,
            coalesce(sum(expected_revenue), 0) as expected_revenue,
            coalesce(sum(billed_revenue), 0) as billed_revenue,
            coalesce(sum(double_billed_amount), 0) as double_billed_amount,
            coalesce(sum(unbilled_amount), 0) as unbilled_amount,
            coalesce(sum(non_sale_units), 0)::bigint as non_sale_units,
            coalesce(sum(non_sale_value), 0) as non_sale_value,
            coalesce(sum(returned_value), 0) as returned_value
        from marts.rpt_reconciliation_monthly
        where $month::date is null or month = $month::date
        """,
        {"month": month},
    )

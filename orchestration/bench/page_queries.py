"""What each dashboard page asks the warehouse: the bench's only use of ``dashboards.queries``.

Every call into the dashboard's query modules is here (``pages``, ``clear_cache``).
"""

from __future__ import annotations

from collections.abc import Callable

from dashboards.queries import (
    connection,
    data_quality,
    exceptions,
    facility_stock,
    finance,
    item_trace,
    non_sale_usage,
    overview,
    reference,
    restatements,
    sales,
)


def clear_cache() -> None:
    """Forget every cached result and close the kept connection: each call runs its SQL
    again, and each page opens the warehouse once, as after a rebuild."""
    connection._cached_query.clear()
    connection.close_kept()


def pages() -> dict[str, Callable[[], object]]:
    """Per page, a function calling every query the page runs with its default widgets (all
    facilities, all dates, no filter; the sales page on its latest month)."""
    months = reference.months()
    month = months[0] if months else None
    items = item_trace.find_items("I", limit=5)
    item = items["item_id"].iloc[0] if len(items) else "none"
    flt = facility_stock.StockFilter()
    stock = facility_stock.facility_stock_items(flt)
    shown = list(stock["item_id"])  # the page asks who may use every item it shows
    sales_months = sales.sales_months()  # the sales page opens on the latest sales month
    lo, hi = sales.month_bounds(sales_months[0] if sales_months else None)
    return {
        "overview": lambda: (
            connection.build_info(),
            data_quality.deliveries(),
            exceptions.exceptions_by_severity(),
            reference.months(),
            overview.reconciliation_totals(month),
            overview.stock_on_hand_totals(),
        ),
        "facility_stock": lambda: (
            reference.facilities(),
            reference.product_lines(),
            reference.catalog_numbers(),
            facility_stock.facility_stock_totals(flt),
            facility_stock.facility_stock_levels(flt),
            facility_stock.facility_stock_items(flt),
            facility_stock.item_access(shown),
        ),
        "item_trace": lambda: (
            item_trace.find_items("I", limit=200),
            item_trace.item_status(item),
            item_trace.item_custody(item),
            item_trace.item_event_lines(item),
            item_trace.items_event_lines([item]),
            item_trace.item_facility_stock(item),
            item_trace.item_exceptions(item),
            facility_stock.item_access([item]),
        ),
        "non_sale_usage": lambda: (
            reference.facilities(),
            reference.users(),
            non_sale_usage.representatives_with_non_sale_usage(),
            non_sale_usage.non_sale_totals(),
            non_sale_usage.non_sale_by_month(),
            non_sale_usage.non_sale_lines(),
        ),
        "finance": lambda: (
            reference.facilities(),
            reference.months(),
            finance.reconciliation(),
            finance.billing_problem_lines(),
            restatements.closed_months(),
            restatements.restatements(),
        ),
        "sales": lambda: (
            reference.users(),
            sales.sales_months(),
            sales.sales_by_month(),
            sales.sales_by_rep(lo, hi),
            sales.sales_lines([], lo, hi),
        ),
        "exceptions": lambda: (
            reference.facilities(),
            exceptions.exception_codes(),
            exceptions.exceptions(),
        ),
        "data_quality": lambda: (
            data_quality.deliveries(),
            data_quality.rejected_by_reason(),
            data_quality.rejected_rows(),
        ),
    }

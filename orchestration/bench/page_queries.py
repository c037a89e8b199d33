"""What each dashboard page asks the warehouse: the bench's only use of ``dashboards.queries``.

Every call into the query module is here (``pages``, ``clear_cache``), so a change of its
import path is a change of the one import below.
"""

from __future__ import annotations

from collections.abc import Callable

from dashboards import queries as q


def clear_cache() -> None:
    """Forget every cached result: each call runs its SQL again, as after a rebuild."""
    q._cached_query.clear()


def pages() -> dict[str, Callable[[], object]]:
    """Per page, a function calling every query the page runs with its default widgets (all
    facilities, all dates, no filter; the sales page on its latest month)."""
    months = q.months()
    month = months[0] if months else None
    items = q.find_items("I", limit=5)
    item = items["item_id"].iloc[0] if len(items) else "none"
    flt = q.StockFilter()
    stock = q.facility_stock_items(flt)
    shown = list(stock["item_id"])  # the page asks who may use every item it shows
    sales_months = q.sales_months()  # the sales page opens on the latest sales month
    lo, hi = q.month_bounds(sales_months[0] if sales_months else None)
    return {
        "overview": lambda: (
            q.build_info(),
            q.deliveries(),
            q.exceptions_by_severity(),
            q.months(),
            q.reconciliation_totals(month),
            q.stock_on_hand_totals(),
        ),
        "facility_stock": lambda: (
            q.facilities(),
            q.product_lines(),
            q.catalog_numbers(),
            q.facility_stock_totals(flt),
            q.facility_stock_levels(flt),
            q.facility_stock_items(flt),
            q.item_access(shown),
        ),
        "item_trace": lambda: (
            q.find_items("I", limit=200),
            q.item_status(item),
            q.item_custody(item),
            q.item_event_lines(item),
            q.items_event_lines([item]),
            q.item_facility_stock(item),
            q.item_exceptions(item),
            q.item_access([item]),
        ),
        "non_sale_usage": lambda: (
            q.facilities(),
            q.users(),
            q.representatives_with_non_sale_usage(),
            q.non_sale_totals(),
            q.non_sale_by_month(),
            q.non_sale_lines(),
        ),
        "finance": lambda: (
            q.facilities(),
            q.months(),
            q.reconciliation(),
            q.billing_problem_lines(),
        ),
        "sales": lambda: (
            q.users(),
            q.sales_months(),
            q.sales_by_month(),
            q.sales_by_rep(lo, hi),
            q.sales_lines([], lo, hi),
        ),
        "exceptions": lambda: (q.facilities(), q.exception_codes(), q.exceptions()),
        "data_quality": lambda: (q.deliveries(), q.rejected_by_reason(), q.rejected_rows()),
    }

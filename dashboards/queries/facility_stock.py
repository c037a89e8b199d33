"""Facility stock: what each facility holds, by product, lot and expiry, and who may use it.

Item attributes (catalog, lot, serial, expiry) are read off fct_facility_stock itself, which
carries them per its contract (dbt_project/models/marts/_marts.yml).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from dashboards.queries import connection
from dashboards.queries.connection import filter_values, query, scalar_row


@dataclass(frozen=True)
class StockFilter:
    facilities: tuple[str, ...] = ()
    product_lines: tuple[str, ...] = ()
    catalog_numbers: tuple[str, ...] = ()
    lot: str | None = None
    expiring_within_days: int | None = None  # None: any expiry

    def params(self) -> dict[str, Any]:
        return {
            "facilities": filter_values(self.facilities),
            "lines": filter_values(self.product_lines),
            "catalogs": filter_values(self.catalog_numbers),
            "lot": (self.lot or "").strip() or None,
            "expiring_within": self.expiring_within_days,
        }


def _on_hand_matching(flt: StockFilter) -> tuple[str, dict[str, Any]]:
    """The on-hand facility-stock rows matching `flt`, and the query parameters.

    Narrow on purpose: the item, its facility, product, attributes and stock figures, no
    names. Names are joined after aggregating (levels) or after cutting to the rows shown
    (items). Only the filters that are set are written into the query, so an unset one costs
    nothing (the product-line filter, say, would otherwise join dim_products to every row).
    The item attributes are fct_facility_stock's own (no join to the item table)."""
    params = {k: v for k, v in flt.params().items() if v is not None}
    conditions = ["fs.quantity_on_hand > 0"]
    if "facilities" in params:
        conditions.append("list_contains($facilities::varchar[], fs.facility_id)")
    if "lines" in params:
        conditions.append(
            "fs.catalog_number in (select catalog_number from marts.dim_products"
            " where list_contains($lines::varchar[], product_line))"
        )
    if "catalogs" in params:
        conditions.append("list_contains($catalogs::varchar[], fs.catalog_number)")
    if "lot" in params:
        conditions.append("fs.lot_number ilike '%' || $lot::varchar || '%'")
    if "expiring_within" in params:
        conditions.append(
            "fs.expiration_date <= current_date + to_days($expiring_within::bigint::integer)"
        )
    where = "\n          and ".join(conditions)
    sql = f"""
        select
            fs.facility_id,
            fs.catalog_number,
            fs.item_id,
            fs.lot_number,
            fs.serial_number,
            fs.expiration_date,
            fs.seller_id,
            fs.stocking_order_id,
            fs.sold_at,
            fs.quantity_on_hand,
            fs.unit_price,
            fs.value_on_hand,
            fs.status
        from marts.fct_facility_stock as fs
        where {where}
    """
    return sql, params


_DAYS_TO_EXPIRY = "date_diff('day', current_date, expiration_date)"


def _facility_stock_items(flt: StockFilter, limit: int | None) -> tuple[str, dict[str, Any]]:
    # The cap applies before names and access counts are joined: only the shown items get them.
    # `picked` is materialized: it is read twice, and otherwise every matching row would be.
    matching, params = _on_hand_matching(flt)
    if limit is not None:
        params["limit"] = limit
    sql = f"""
        with matching as ({matching}),
        picked as materialized (
            select * from matching
            order by expiration_date nulls last, facility_id, catalog_number, item_id
            {"limit $limit" if limit is not None else ""}
        ),
        access as (
            select item_id, count(distinct user_id) as eligible_users
            from marts.fct_facility_stock_access
            where item_id in (select item_id from picked)
            group by item_id
        )
        select
            picked.facility_id,
            fac.facility_name,
            picked.catalog_number,
            prod.product_description,
            prod.product_line,
            picked.item_id,
            picked.lot_number,
            picked.serial_number,
            picked.expiration_date,
            picked.seller_id,
            seller.full_name as seller_name,
            picked.stocking_order_id,
            picked.sold_at,
            date_diff('day', picked.sold_at::date, current_date) as days_on_shelf,
            date_diff('day', current_date, picked.expiration_date) as days_to_expiry,
            picked.quantity_on_hand,
            picked.unit_price,
            picked.value_on_hand,
            picked.status,
            coalesce(access.eligible_users, 0) as eligible_users
        from picked
        left join marts.dim_facilities as fac on fac.facility_id = picked.facility_id
        left join marts.dim_products as prod on prod.catalog_number = picked.catalog_number
        left join marts.dim_users as seller on seller.user_id = picked.seller_id
        left join access on access.item_id = picked.item_id
        order by picked.expiration_date nulls last, picked.facility_id, picked.catalog_number,
                 picked.item_id
        """
    return sql, params


def facility_stock_items(flt: StockFilter) -> pd.DataFrame:
    """The first DETAIL_ROW_CAP on-hand facility-stock items matching the filter (soonest
    expiry first), with seller, shelf time, expiry and how many users may use each."""
    return query(*_facility_stock_items(flt, connection.DETAIL_ROW_CAP))


def facility_stock_items_all(flt: StockFilter) -> pd.DataFrame:
    """Every on-hand item matching the filter, same columns and order (CSV download; uncached)."""
    return query(*_facility_stock_items(flt, None), cached=False)


def facility_stock_totals(flt: StockFilter) -> dict[str, Any]:
    """Units, value, item count and units expiring within 90 days of the filtered items."""
    matching, params = _on_hand_matching(flt)
    return scalar_row(
        f"""
        with matching as ({matching})
        select
            coalesce(sum(quantity_on_hand), 0)::bigint as quantity_on_hand,
            coalesce(sum(value_on_hand), 0) as value_on_hand,
            count(*) as items,
            coalesce(sum(quantity_on_hand) filter (where {_DAYS_TO_EXPIRY} <= 90), 0)::bigint
                as quantity_expiring_90d
        from matching
        """,
        params,
    )


def facility_stock_levels(flt: StockFilter) -> pd.DataFrame:
    """Stock on hand by facility and product for the filtered items (aggregated first, then
    named: there is one facility name and one product per key)."""
    matching, params = _on_hand_matching(flt)
    return query(
        f"""
        with matching as ({matching}),
        levels as (
            select
                facility_id,
                catalog_number,
                sum(quantity_on_hand)::bigint as quantity_on_hand,
                sum(value_on_hand) as value_on_hand,
                count(*) as items,
                min(sold_at) as oldest_sold_at,
                min(expiration_date) as next_expiration,
                coalesce(sum(quantity_on_hand) filter (where {_DAYS_TO_EXPIRY} <= 90), 0)::bigint
                    as quantity_expiring_90d
            from matching
            group by facility_id, catalog_number
        )
        select
            levels.facility_id,
            fac.facility_name,
            levels.catalog_number,
            prod.product_description,
            prod.product_line,
            levels.quantity_on_hand,
            levels.value_on_hand,
            levels.items,
            levels.oldest_sold_at,
            levels.next_expiration,
            levels.quantity_expiring_90d
        from levels
        left join marts.dim_facilities as fac on fac.facility_id = levels.facility_id
        left join marts.dim_products as prod on prod.catalog_number = levels.catalog_number
        order by levels.facility_id, levels.catalog_number
        """,
        params,
    )


def item_access(item_ids: Sequence[str]) -> pd.DataFrame:
    """Who may use each on-hand facility-stock item now, and by which path."""
    return query(
        """
        select a.item_id, a.facility_id, a.user_id, u.full_name, u.role, a.access_path
        from marts.fct_facility_stock_access as a
        left join marts.dim_users as u on u.user_id = a.user_id
        where a.item_id in (select unnest($items::varchar[]))
        order by a.item_id, a.access_path, a.user_id
        """,
        {"items": list(item_ids)},
    )

"""Item trace: where an item (or lot) is now, where it has been, and which events used it.

Item attributes (catalog, lot, serial, expiry) are read off fct_inventory_status, which carries
them per its contract (dbt_project/models/marts/_marts.yml). Who may use an item now is
`facility_stock.item_access`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from dashboards.queries.connection import query, scalar_row


def find_items(text: str, limit: int = 200) -> pd.DataFrame:
    """Items whose id, serial or lot number contains `text` (case-insensitive).

    The first `limit` matches are picked on the id, serial and lot alone, then only they get
    their other columns: fct_inventory_status is a view that computes them for every row it
    yields (on `large`, 3M items for a one-letter search)."""
    return query(
        """
        with picked as (
            select st.item_id,
                   (st.item_id = $text or st.serial_number = $text
                    or st.lot_number = $text) as exact
            from marts.fct_inventory_status as st
            where st.item_id ilike '%' || $text || '%'
               or st.serial_number ilike '%' || $text || '%'
               or st.lot_number ilike '%' || $text || '%'
            order by exact desc, st.item_id
            limit $limit
        ),
        found as (
            select st.item_id, st.catalog_number, st.lot_number, st.serial_number,
                   st.expiration_date, st.custodian_id, st.is_active, st.is_facility_stock,
                   st.facility_id, st.quantity_remaining, picked.exact
            from marts.fct_inventory_status as st
            inner join picked on picked.item_id = st.item_id
        )
        select found.item_id, found.catalog_number, p.product_description, found.lot_number,
               found.serial_number, found.expiration_date, found.custodian_id, found.is_active,
               found.is_facility_stock, found.facility_id, found.quantity_remaining
        from found
        left join marts.dim_products as p on p.catalog_number = found.catalog_number
        order by found.exact desc, found.item_id
        """,
        {"text": text.strip(), "limit": limit},
    )


def item_status(item_id: str) -> dict[str, Any]:
    return scalar_row(
        """
        select st.item_id, st.catalog_number, st.lot_number, st.serial_number,
               st.expiration_date, st.custodian_id, st.is_active, st.is_facility_stock,
               st.facility_id, st.quantity_remaining, st.deactivated_at, st.deactivation_reason,
               p.product_description, p.product_line, p.tracking
        from marts.fct_inventory_status as st
        left join marts.dim_products as p on p.catalog_number = st.catalog_number
        where st.item_id = $item
        """,
        {"item": item_id},
    )


def item_custody(item_id: str) -> pd.DataFrame:
    return query(
        """
        select c.valid_from, c.valid_to, c.custodian_id,
               coalesce(u.full_name, case when c.custodian_id = 'ORG'
                                          then 'Organization stock room' end) as custodian_name,
               coalesce(u.role, case when c.custodian_id = 'ORG' then 'ORG' end)
                   as custodian_role
        from marts.fct_custody_intervals as c
        left join marts.dim_users as u on u.user_id = c.custodian_id
        where c.item_id = $item
        order by c.valid_from
        """,
        {"item": item_id},
    )


def item_event_lines(item_id: str) -> pd.DataFrame:
    return query(
        """
        select event_date, event_id, line_no, event_type, facility_id, representative_id,
               quantity, usage_class, access_path, custodian_at_use, expected_amount,
               billed_amount
        from marts.fct_event_lines
        where item_id = $item
        order by event_date, event_id, line_no
        """,
        {"item": item_id},
    )


def items_event_lines(item_ids: Sequence[str]) -> pd.DataFrame:
    """Event lines of several items (e.g. every record of one lot), newest first."""
    return query(
        """
        select event_date, item_id, event_id, line_no, event_type, facility_id,
               representative_id, quantity, usage_class, expected_amount, billed_amount
        from marts.fct_event_lines
        where item_id in (select unnest($items::varchar[]))
        order by event_date desc, event_id, line_no
        """,
        {"items": list(item_ids)},
    )


def item_facility_stock(item_id: str) -> pd.DataFrame:
    return query(
        """
        select facility_id, seller_id, stocking_order_id, sold_at, quantity_sold, quantity_used,
               quantity_returned, quantity_on_hand, unit_price, value_on_hand, status
        from marts.fct_facility_stock
        where item_id = $item
        """,
        {"item": item_id},
    )


def item_exceptions(item_id: str) -> pd.DataFrame:
    return query(
        """
        select code, severity, occurred_at, event_id, line_no, user_id, facility_id,
               transfer_id, detail
        from marts.fct_exceptions
        where item_id = $item
        order by occurred_at, code
        """,
        {"item": item_id},
    )

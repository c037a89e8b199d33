"""Lookups several pages share: facilities, users, products and months for their filters."""

from __future__ import annotations

from datetime import date

import pandas as pd

from dashboards.queries.connection import query


def facilities() -> pd.DataFrame:
    """Facilities for the filters: dim_facilities, plus any facility id the facts name that the
    dimension lacks (an unknown reference must still be selectable)."""
    return query(
        """
        with named_in_facts as (
            select facility_id from marts.fct_facility_stock
            union select facility_id from marts.fct_event_lines
            union select facility_id from marts.rpt_reconciliation_monthly
            union select facility_id from marts.fct_exceptions
        )
        select f.facility_id, d.facility_name, d.state, d.contract_complete
        from (select facility_id from marts.dim_facilities union
              select facility_id from named_in_facts) as f
        left join marts.dim_facilities as d using (facility_id)
        where f.facility_id is not null
        order by f.facility_id
        """
    )


def users() -> pd.DataFrame:
    return query(
        "select user_id, full_name, role, is_custodian_only, is_active, commission_rate, region "
        "from marts.dim_users order by user_id"
    )


def _products() -> pd.DataFrame:
    """Every catalog number (in order) with its product line: both product filters, one query."""
    return query(
        "select catalog_number, product_line from marts.dim_products order by catalog_number"
    )


def product_lines() -> list[str]:
    return sorted(set(_products()["product_line"].dropna()))


def catalog_numbers() -> list[str]:
    return _products()["catalog_number"].tolist()


def months() -> list[date]:
    """Months present in the reconciliation, newest first."""
    df = query(
        "select distinct month from marts.rpt_reconciliation_monthly "
        "where month is not null order by month desc"
    )
    return [pd.Timestamp(m).date() for m in df["month"]]

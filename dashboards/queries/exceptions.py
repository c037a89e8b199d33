"""Exceptions: records that break the rules (fct_exceptions), by code and severity."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from dashboards.queries.connection import filter_values, query

SEVERITY_ORDER = ("high", "medium", "low", "info")


def exceptions_by_severity() -> pd.DataFrame:
    return query(
        """
        select severity, count(*) as exceptions
        from marts.fct_exceptions
        group by severity
        order by case lower(severity)
            when 'high' then 1 when 'medium' then 2 when 'low' then 3 when 'info' then 4
            else 5 end
        """
    )


def exception_codes() -> pd.DataFrame:
    return query(
        "select code, any_value(severity) as severity, count(*) as exceptions "
        "from marts.fct_exceptions group by code order by exceptions desc, code"
    )


def exceptions(
    codes: Sequence[str] = (), severities: Sequence[str] = (), facilities: Sequence[str] = ()
) -> pd.DataFrame:
    return query(
        """
        select code, severity, occurred_at, event_id, line_no, item_id, user_id,
               facility_id, transfer_id, detail
        from marts.fct_exceptions
        where ($codes::varchar[] is null or list_contains($codes::varchar[], code))
          and ($sev::varchar[] is null or list_contains($sev::varchar[], severity))
          and ($facilities::varchar[] is null or list_contains($facilities::varchar[], facility_id))
        order by occurred_at desc nulls last, code, event_id, line_no, item_id
        """,
        {
            "codes": filter_values(codes),
            "sev": filter_values(severities),
            "facilities": filter_values(facilities),
        },
    )

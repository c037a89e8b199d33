"""Exceptions: records that break the rules (fct_exceptions), by code and severity.

Codes, severities and their order come from `marts.dim_exception_codes` (the dbt seed
`exception_codes`, one home for every code), never from a list in Python."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from dashboards.queries.connection import filter_values, query


def severity_order() -> list[str]:
    """Every severity, most severe first."""
    frame = query(
        "select severity from marts.dim_exception_codes "
        "group by severity order by min(severity_rank), severity"
    )
    return list(frame["severity"])


def exceptions_by_severity() -> pd.DataFrame:
    return query(
        """
        select x.severity, count(*) as exceptions
        from marts.fct_exceptions as x
        left join (
            select severity, min(severity_rank) as severity_rank
            from marts.dim_exception_codes
            group by severity
        ) as s on x.severity = s.severity
        group by x.severity
        order by min(s.severity_rank) nulls last, x.severity
        """
    )


def exception_codes() -> pd.DataFrame:
    """Each code found, with its severity, rule and description, and how often it occurs."""
    return query(
        """
        select x.code, any_value(x.severity) as severity, any_value(c.rule) as rule,
               any_value(c.description) as description, count(*) as exceptions
        from marts.fct_exceptions as x
        left join marts.dim_exception_codes as c on x.code = c.code
        group by x.code
        order by exceptions desc, x.code
        """
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

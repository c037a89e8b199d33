"""Data quality: the deliveries ingested and the rows rejected (schema ``audit``)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from dashboards.queries.connection import filter_values, query


def deliveries() -> pd.DataFrame:
    return query(
        """
        select file_id, entity, source_file, file_format, status, rows_read, rows_loaded,
               rows_rejected, ingested_at
        from audit.ingested_files
        order by file_id
        """
    )


def rejected_rows(entities: Sequence[str] = ()) -> pd.DataFrame:
    return query(
        """
        select entity, source_file, row_number, reason_codes, reasons, record, rejected_at
        from audit.rejected_rows
        where $entities::varchar[] is null or list_contains($entities::varchar[], entity)
        order by entity, source_file, row_number
        """,
        {"entities": filter_values(entities)},
    )


def rejected_by_reason() -> pd.DataFrame:
    """Rejected rows per entity and reason code (a row with two reasons counts under each)."""
    return query(
        """
        select entity, trim(reason) as reason_code, count(*) as rows
        from audit.rejected_rows, unnest(string_split(reason_codes, ';')) as r(reason)
        group by all
        order by rows desc, entity, reason_code
        """
    )

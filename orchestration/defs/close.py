"""``audit/closed_months`` as an external asset: the month-end closes.

Written only by ``custodia close`` (orchestration/close.py), outside any Dagster run, and read
by dbt as the source ``audit.closed_months`` (``stg_closed_months`` -> ``rpt_restatements``).
Declared here so the graph shows where it comes from; no run materializes it, and the build
selects only what can be materialized (orchestration/build.py).
"""

import dagster as dg

closed_months = dg.AssetSpec(
    key=dg.AssetKey(["audit", "closed_months"]),
    group_name="audit",
    kinds={"duckdb"},
    description=(
        "Month-end closes: per closed month and facility, the figures of "
        "rpt_reconciliation_monthly frozen by `custodia close`, with who closed it, when and "
        "the delivery watermark. Append-only; no build rewrites it."
    ),
)

"""Custodia dashboard: entry point.

    CUSTODIA_WAREHOUSE=data/warehouse/custodia.duckdb \\
        streamlit run dashboards/app.py --server.address 127.0.0.1 --server.port 8501

One page per question users bring; pages hold layout only and read the warehouse through the
modules of `dashboards.queries` (docs/dashboard.md). When the warehouse is missing, incomplete
or busy, every page shows a message saying how to build it instead of a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run` puts this folder, not the project, on sys.path.
_PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(_PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(_PROJECT_ROOT))

import streamlit as st  # noqa: E402

from dashboards import ui  # noqa: E402
from dashboards.queries import connection  # noqa: E402
from dashboards.sections import freshness  # noqa: E402

PAGES = [
    st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("views/facility_stock.py", title="Facility stock", icon=":material/inventory_2:"),
    st.Page("views/non_sale_usage.py", title="Non-sale usage", icon=":material/medical_services:"),
    st.Page("views/finance.py", title="Finance reconciliation", icon=":material/receipt_long:"),
    st.Page("views/sales.py", title="Sales and commission", icon=":material/payments:"),
    st.Page("views/item_trace.py", title="Item trace", icon=":material/search:"),
    st.Page("views/exceptions.py", title="Exceptions", icon=":material/report:"),
    st.Page("views/data_quality.py", title="Data quality", icon=":material/fact_check:"),
    st.Page("views/sql.py", title="SQL", icon=":material/terminal:"),
]

st.set_page_config(page_title="Custodia", page_icon=":material/inventory:", layout="wide")
page = st.navigation(PAGES)

try:
    connection.require_warehouse()
    freshness.render_header()
    page.run()
except connection.WarehouseUnavailable as exc:
    st.title(page.title)
    ui.show_unavailable(exc)

"""The filter bar the pages share: one row of filter widgets above a page's figures.

The same filters look and behave the same on every page: the facility filter (facility stock,
non-sale usage, finance, exceptions) lists every facility as "id · name", the representative
filter (non-sale usage, sales) shows "id · name" too, and an empty selection means "all".
Each widget keeps the page's own `key=` (the tests drive widgets by key).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboards import ui


class FilterBar:
    """A row of columns of the given relative widths, filled left to right: each method puts
    its widget in the next column and returns the selection."""

    def __init__(self, widths: Sequence[int] = (1,)) -> None:
        self._columns = iter(st.columns(list(widths)))

    def next_column(self) -> DeltaGenerator:
        """The next column, for a widget only one page has."""
        return next(self._columns)

    def choose(self, label: str, options: Iterable[Any], *, key: str, placeholder: str) -> list:
        """A multiselect; nothing selected means no filter."""
        return self.next_column().multiselect(
            label, list(options), key=key, placeholder=placeholder
        )

    def facilities(self, facilities: pd.DataFrame, *, key: str) -> list[str]:
        """Facilities (`reference.facilities()`), shown as 'F-1 · St. Mary Hospital'."""
        return self.next_column().multiselect(
            "Facility",
            facilities["facility_id"].tolist(),
            format_func=ui.facility_label(facilities),
            key=key,
            placeholder="All facilities",
        )

    def representatives(
        self, representative_ids: Iterable[str], users: pd.DataFrame, *, key: str
    ) -> list[str]:
        """Representatives among `representative_ids`, named from `users`
        (`reference.users()`)."""
        return self.next_column().multiselect(
            "Representative",
            list(representative_ids),
            format_func=ui.user_label(users),
            key=key,
            placeholder="All representatives",
        )

    def date_range(self, label: str, *, key: str) -> tuple[date | None, date | None]:
        """First and last day picked (None, None: all dates; a single day picked so far:
        from that day on)."""
        dates = self.next_column().date_input(
            label, value=(), key=key, help="Leave empty for all dates."
        )
        return (tuple(dates) + (None, None))[:2] if dates else (None, None)

    def month(self, label: str, months: Iterable[date], *, key: str, unset: str) -> date | None:
        """One of `months` in the order given, or None (first option, labelled `unset`)."""
        return self.next_column().selectbox(
            label,
            [None, *months],
            key=key,
            format_func=lambda m: unset if m is None else ui.month_label(m),
        )

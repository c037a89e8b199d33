"""Sections shared by pages or added to a page as one call (layout only, no SQL)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import streamlit as st

from dashboards.queries import connection


def older_build_note(what: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A section of marts added later: on a warehouse built before them (WarehouseIncomplete,
    not busy or missing) the section says so and the rest of the page still answers."""

    def decorate(render: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(render)
        def wrapper(*args: Any, **kwargs: Any) -> None:
            try:
                render(*args, **kwargs)
            except connection.WarehouseIncomplete as exc:
                st.info(f"{what} is not available in this warehouse: {exc}")

        return wrapper

    return decorate

"""Sections shared by pages or added to a page as one call (layout only, no SQL)."""

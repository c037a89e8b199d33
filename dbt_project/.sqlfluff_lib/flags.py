"""Stand-in for dbt's ``flags`` for sqlfluff's jinja templater: a plain (not --full-refresh) run."""

FULL_REFRESH = False

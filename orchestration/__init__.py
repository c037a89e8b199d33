"""Custodia: facility-stock pipeline and warehouse (Dagster, DuckDB, dbt)."""

"""Independent test oracle for Custodia: the business rules R-1..R-19 in plain Python.

    import oracle
    result = oracle.run(oracle.load_from_duckdb("custodia.duckdb"))
    result.custodian_at("I1", t); result.exceptions; result.figures

See `oracle.rules` for the Interpretations list.
"""

from .compare import diff_exceptions, exception_key, load_exceptions_csv, load_exceptions_duckdb
from .loader import load_from_duckdb
from .rules import (
    CODES,
    KEY_COLUMNS,
    KEY_CONVENTION,
    SEVERITY,
    USAGE_CLASSES,
    OracleResult,
    key_convention_violations,
    max_timestamp,
    paths_at,
    run,
)
from .snapshot import dedupe, normalise_rows, snapshot

__all__ = [
    "CODES",
    "KEY_COLUMNS",
    "KEY_CONVENTION",
    "SEVERITY",
    "USAGE_CLASSES",
    "OracleResult",
    "dedupe",
    "diff_exceptions",
    "exception_key",
    "load_exceptions_csv",
    "load_exceptions_duckdb",
    "key_convention_violations",
    "load_from_duckdb",
    "max_timestamp",
    "normalise_rows",
    "paths_at",
    "run",
    "snapshot",
]

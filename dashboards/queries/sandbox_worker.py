"""The worker that runs one analyst query under hard limits (`sandbox` starts it).

    python -m dashboards.queries.sandbox_worker JOB_DIR

reads `JOB_DIR/job.json` (the checked SQL, the warehouse, the limits, the mode), caps its own
address space and CPU time, runs the query and writes `JOB_DIR/status.json` (and the result
file the job names). It imports only the standard library, DuckDB and pyarrow, and loads every
library *before* capping its address space (their mappings count against it).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from dashboards.formulas import FORMULA_PATTERN, neutralise_cell

DOWNLOAD_FORMATS = ("csv", "parquet")


# DuckDB types whose values have a bounded size; every other column (text, blob, nested, …)
# is cast to text and cut inside DuckDB.
_BOUNDED_TYPES = frozenset(
    {
        "boolean",
        "tinyint",
        "smallint",
        "integer",
        "bigint",
        "hugeint",
        "utinyint",
        "usmallint",
        "uinteger",
        "ubigint",
        "uhugeint",
        "float",
        "double",
        "decimal",
        "date",
        "time",
        "time with time zone",
        "timestamp",
        "timestamp with time zone",
        "timestamp_s",
        "timestamp_ms",
        "timestamp_ns",
        "interval",
    }
)
_BATCH_ROWS = 1_024


def _mb(value: float) -> int:
    return int(value * 1_000_000)


def _limit_process(limits: dict[str, Any], seconds: float) -> None:
    """Cap this worker: address space at what it has mapped now (libraries, the open
    warehouse, thread stacks) plus the memory limit; CPU time at the time limit."""
    import resource

    mapped = _vm_bytes("VmSize")
    memory = mapped + limits["memory_mb"] * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = math.ceil(seconds) + 2  # one DuckDB thread, plus the worker's start
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    with contextlib.suppress(OSError):
        os.nice(5)  # the dashboard's own pages come first


def _vm_bytes(field: str, pid: int | str = "self") -> int:
    """A `Vm*` figure of /proc/<pid>/status, in bytes (0 when the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _wrapped(body: str, names: list[str], types: list[Any], cell_chars: int | None) -> str:
    """`body` with every unbounded column cast to text (and cut to cell_chars + 1)."""
    aliases = [f"c{i}" for i in range(len(names))]
    select = []
    for alias, kind in zip(aliases, types, strict=True):
        if kind.id in _BOUNDED_TYPES:
            select.append(alias)
        elif cell_chars is None:
            select.append(f"cast({alias} as varchar)")
        else:
            select.append(f"left(cast({alias} as varchar), {cell_chars + 1})")
    return f"select {', '.join(select)}\nfrom (\n{body}\n) as q({', '.join(aliases)})"


def _cut(batch: Any, cell_chars: int) -> tuple[Any, Any]:
    """`batch` with text cells longer than `cell_chars` cut (ending in …), and per row the
    number of cells cut."""
    import pyarrow as pa
    import pyarrow.compute as pc

    per_row = pa.array([0] * batch.num_rows, pa.int64())
    columns = []
    for column in batch.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            over = pc.fill_null(pc.greater(pc.utf8_length(column), cell_chars), False)
            if pc.any(over).as_py():
                per_row = pc.add(per_row, pc.cast(over, pa.int64()))
                short = pc.binary_join_element_wise(
                    pc.utf8_slice_codeunits(column, 0, cell_chars), "…", ""
                )
                column = pc.if_else(over, short, column)
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names), per_row


def _neutralised(batch: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for column in batch.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            formula = pc.fill_null(pc.match_substring_regex(column, FORMULA_PATTERN), False)
            column = pc.if_else(formula, pc.binary_join_element_wise("'", column, ""), column)
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _connect(warehouse: str, limits: dict[str, Any]) -> Any:
    import duckdb

    con = duckdb.connect(
        warehouse,
        read_only=True,
        config={
            "enable_external_access": False,
            "autoload_known_extensions": False,
            "autoinstall_known_extensions": False,
            "threads": 1,
            "memory_limit": f"{max(limits['memory_mb'] // 2, 64)}MB",
            "max_temp_directory_size": "2GB",
            "lock_configuration": True,
        },
    )
    with contextlib.suppress(duckdb.CatalogException):
        con.execute("set search_path = 'marts'")
    return con


def _preview(con: Any, body: str, limits: dict[str, Any], out: str) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.ipc

    relation = con.sql(body)
    names, types = list(relation.columns), list(relation.types)
    row_cap, byte_cap = limits["rows"], _mb(limits["result_mb"])
    sql = f"{_wrapped(body, names, types, limits['cell_chars'])}\nlimit {row_cap + 1}"
    reader = con.sql(sql).to_arrow_reader(_BATCH_ROWS)
    kept, rows, nbytes, cut_cells, stopped_by = [], 0, 0, 0, None
    schema = reader.schema
    for batch in reader:
        batch, cut_per_row = _cut(batch, limits["cell_chars"])
        schema = batch.schema
        if rows + batch.num_rows > row_cap:
            batch, stopped_by = batch.slice(0, row_cap - rows), "rows"
        if nbytes + batch.nbytes > byte_cap:
            batch, stopped_by = _fit(batch, byte_cap - nbytes), "bytes"
        kept.append(batch)
        rows += batch.num_rows
        nbytes += batch.nbytes
        cut_cells += pc.sum(cut_per_row.slice(0, batch.num_rows)).as_py() or 0  # rows kept
        if stopped_by:
            break
    table = pa.Table.from_batches(kept, schema=schema)
    with pa.OSFile(out, "wb") as sink, pyarrow.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return {
        "columns": names,
        "rows": rows,
        "stopped_by": stopped_by,
        "cut_cells": cut_cells,
        "nbytes": nbytes,
    }


def _fit(batch: Any, budget: int) -> Any:
    """The longest prefix of `batch` whose Arrow size is within `budget` bytes."""
    lo, hi = 0, batch.num_rows
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if batch.slice(0, mid).nbytes <= budget:
            lo = mid
        else:
            hi = mid - 1
    return batch.slice(0, lo)


def _download(con: Any, body: str, limits: dict[str, Any], fmt: str, out: str) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.csv
    import pyarrow.parquet

    relation = con.sql(body)
    names, types = list(relation.columns), list(relation.types)
    reader = con.sql(_wrapped(body, names, types, None)).to_arrow_reader(8 * _BATCH_ROWS)
    cap = _mb(limits["download_mb"])
    rows = 0
    header = [neutralise_cell(n) for n in names]
    first = True
    writer = None
    try:
        for batch in reader:
            batch = pa.RecordBatch.from_arrays(batch.columns, names=header)
            if fmt == "csv":
                batch = _neutralised(batch)
                if writer is None:
                    writer = pyarrow.csv.CSVWriter(out, batch.schema)
            elif writer is None:
                writer = pyarrow.parquet.ParquetWriter(out, batch.schema)
            writer.write_batch(batch)
            rows += batch.num_rows
            first = False
            if os.path.getsize(out) > cap:
                raise _Refused(
                    "download",
                    f"Refused: the full result is larger than the {limits['download_mb']:g} MB "
                    f"download limit (stopped after {rows:,} rows).",
                )
        if first:  # no rows: still a file with the header
            schema = reader.schema
            schema = pa.schema([pa.field(h, f.type) for h, f in zip(header, schema, strict=True)])
            writer = (pyarrow.csv.CSVWriter if fmt == "csv" else pyarrow.parquet.ParquetWriter)(
                out, schema
            )
    finally:
        if writer is not None:
            writer.close()
    return {"columns": names, "rows": rows, "nbytes": os.path.getsize(out)}


class _Refused(Exception):
    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def _work(job: dict[str, Any]) -> dict[str, Any]:
    limits, mode = job["limits"], job["mode"]
    seconds = limits["download_seconds"] if mode in DOWNLOAD_FORMATS else limits["seconds"]
    started = time.monotonic()
    # Every library is loaded before the address space is capped (their mappings count).
    import duckdb
    import pyarrow.compute
    import pyarrow.csv
    import pyarrow.ipc
    import pyarrow.parquet  # noqa: F401

    try:
        con = _connect(job["warehouse"], limits)
    except duckdb.IOException as exc:
        return _failed("busy", f"The warehouse cannot be opened right now: {_first_line(exc)}")
    # The worker's start counts against the limit.
    timer = threading.Timer(max(seconds - (time.monotonic() - started), 0.1), con.interrupt)
    timer.start()
    _limit_process(limits, seconds)
    try:
        if mode == "preview":
            status = _preview(con, job["sql"], limits, job["out"])
        else:
            status = _download(con, job["sql"], limits, mode, job["out"])
    except _Refused as exc:
        return _failed(exc.limit, str(exc))
    except duckdb.InterruptException:
        return _failed("time", f"Stopped: the query ran longer than the {seconds:g} s time limit.")
    except (duckdb.OutOfMemoryException, MemoryError):
        return _failed(
            "memory",
            f"Stopped: the query needed more than the {limits['memory_mb']:,} MiB memory limit.",
        )
    except duckdb.PermissionException as exc:
        return _failed("refused", f"Refused by the engine: {_first_line(exc)}")
    except duckdb.Error as exc:
        return _failed("error", f"Query failed: {_first_line(exc)}")
    finally:
        timer.cancel()
    return {"ok": True, "seconds": time.monotonic() - started, "stopped_by": None, **status}


def _failed(limit: str, message: str) -> dict[str, Any]:
    return {"ok": False, "limit": limit, "message": message}


def _main(job_dir: str) -> int:
    folder = Path(job_dir)
    job = json.loads((folder / "job.json").read_text())
    try:
        status = _work(job)
    except MemoryError:
        memory_mb = job["limits"]["memory_mb"]
        status = _failed(
            "memory", f"Stopped: the query needed more than the {memory_mb:,} MiB memory limit."
        )
    tmp = folder / "status.json.tmp"
    tmp.write_text(json.dumps(status))
    tmp.replace(folder / "status.json")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1]))

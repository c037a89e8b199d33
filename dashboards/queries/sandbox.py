"""The confined runner for analyst SQL: each query in a worker process with hard OS limits.

An analyst's text is checked first (`analyst.check_analyst_sql`: one SELECT over `marts` and
`audit`). What the check cannot bound is what the query *costs*: DuckDB's `memory_limit` covers
its buffer manager, not the strings a function builds nor the rows handed to Python, and an
interrupt does not stop a fetch that is already converting rows. So the query runs in a worker
process of its own (`python -m` this module), which, before it opens the warehouse:

- caps its address space (`RLIMIT_AS`, the *memory* limit): an allocation beyond it fails inside
  DuckDB, which reports it, or kills the worker; either way only the worker;
- caps its CPU time (`RLIMIT_CPU`: the time limit times its one thread, plus slack);
- opens the warehouse read-only, external access off, configuration locked, one thread, DuckDB's
  own `memory_limit` at half the address-space cap, spilling bounded by `max_temp_directory_size`;
- cuts every text (and nested, blob, …) cell to `cell_chars` characters *inside DuckDB*, before
  the rows reach Python, and stops at `rows` rows or `result_mb` megabytes of Arrow data,
  whichever comes first, writing what it kept to an Arrow file the dashboard reads.

The dashboard's process waits at most `seconds` (plus a short grace for the worker's own
interrupt to answer), then kills the worker's whole process group. It only ever receives the
capped result. At most `concurrent` queries run at once per dashboard process; the rest wait in
a first-come queue (`Gate`) and can show their position.

A download of the full result runs the same way (same limits but `download_seconds`), the worker
streaming batches into a CSV or Parquet file under the app's static folder, refused once the file
passes `download_mb`; the dashboard links to the file (served by Streamlit's static file
handler, in chunks), so the result is never built in the dashboard's memory.

Every limit is a setting: `SETTINGS` lists the environment variables, defaults and meanings.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dashboards.queries import sandbox_worker

# --------------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class Setting:
    env: str
    field: str
    unit: str
    meaning: str


SETTINGS = (
    Setting("CUSTODIA_SQL_SECONDS", "seconds", "s", "wall-clock time of one query"),
    Setting("CUSTODIA_SQL_MEMORY_MB", "memory_mb", "MiB", "memory one query may add"),
    Setting("CUSTODIA_SQL_MAX_ROWS", "rows", "rows", "rows shown of one result"),
    Setting("CUSTODIA_SQL_MAX_RESULT_MB", "result_mb", "MB", "bytes shown of one result"),
    Setting("CUSTODIA_SQL_CELL_CHARS", "cell_chars", "chars", "characters shown per cell"),
    Setting("CUSTODIA_SQL_CONCURRENT", "concurrent", "queries", "analyst queries at once"),
    Setting("CUSTODIA_SQL_DOWNLOAD_MB", "download_mb", "MB", "size of one full download"),
    Setting("CUSTODIA_SQL_DOWNLOAD_SECONDS", "download_seconds", "s", "time of one full download"),
)

# Seconds the dashboard waits beyond the time limit for the worker's own interrupt to answer
# (the worker's start, about 0.5 s, counts against the limit) before it kills the worker.
KILL_GRACE_SECONDS = 2.0
DOWNLOAD_KEEP_SECONDS = 3_600
DOWNLOAD_FORMATS = sandbox_worker.DOWNLOAD_FORMATS


@dataclass(frozen=True)
class Limits:
    seconds: float = 10.0
    memory_mb: int = 512
    rows: int = 5_000
    result_mb: float = 50.0
    cell_chars: int = 2_048
    concurrent: int = 2
    download_mb: float = 200.0
    download_seconds: float = 60.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """The limits in force: each `CUSTODIA_SQL_*` variable, or its default."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = environ.get(setting.env, "").strip()
            if not raw:
                continue
            kind = type(getattr(cls, setting.field))
            try:
                value = kind(float(raw)) if kind is int else float(raw)
            except ValueError:
                raise ValueError(
                    f"{setting.env}={raw!r} is not a number ({setting.meaning}, in {setting.unit})"
                ) from None
            if not value > 0:
                raise ValueError(f"{setting.env}={raw!r} must be greater than 0")
            values[setting.field] = value
        return cls(**values)

    def caption(self) -> str:
        return (
            f"Limits per query: {self.seconds:g} s, {self.memory_mb:,} MiB of memory, "
            f"{self.rows:,} rows or {self.result_mb:g} MB shown, cells cut at "
            f"{self.cell_chars:,} characters; {self.concurrent} queries at once; full downloads "
            f"up to {self.download_mb:g} MB in {self.download_seconds:g} s."
        )


# --------------------------------------------------------------------------------------------
# Outcomes


class QueryStopped(Exception):
    """The query did not finish; `limit` names what stopped it (time, memory, cpu, download,
    busy, error) and the message says it in words."""

    def __init__(self, limit: str, message: str, worker_peak_bytes: int = 0) -> None:
        super().__init__(message)
        self.limit = limit
        self.worker_peak_bytes = worker_peak_bytes  # the worker's peak resident memory


@dataclass
class Preview:
    """The capped result of a query, as the dashboard shows it."""

    table: Any  # pyarrow.Table, original column names (duplicates kept)
    rows: int
    stopped_by: str | None  # "rows" or "bytes" when the result was longer than shown
    cut_cells: int  # cells cut to `cell_chars`
    seconds: float
    nbytes: int
    worker_peak_bytes: int  # the worker's peak resident memory, as the kernel counted it


@dataclass
class Download:
    path: Path
    rows: int
    nbytes: int
    seconds: float
    worker_peak_bytes: int


# --------------------------------------------------------------------------------------------
# The queue: at most N queries at once per dashboard process, first come first served


class Gate:
    """A first-come queue in front of at most `capacity` running queries."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiting: collections.deque[object] = collections.deque()
        self._running = 0

    @property
    def running(self) -> int:
        with self._cond:
            return self._running

    @contextlib.contextmanager
    def slot(
        self,
        capacity: int,
        on_wait: Callable[[int], None] | None = None,
        poll_seconds: float = 0.25,
    ) -> Iterator[None]:
        """Hold one of `capacity` slots for the block; while waiting, `on_wait(position)` is
        called (position 1 = next in line) each time the position is looked at."""
        ticket = object()
        with self._cond:
            self._waiting.append(ticket)
        try:
            while True:
                with self._cond:
                    position = self._waiting.index(ticket) + 1
                    if position == 1 and self._running < capacity:
                        self._waiting.popleft()
                        self._running += 1
                        break
                if on_wait is not None:
                    on_wait(position)
                with self._cond:
                    self._cond.wait(poll_seconds)
        except BaseException:
            with self._cond:
                if ticket in self._waiting:
                    self._waiting.remove(ticket)
                self._cond.notify_all()
            raise
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()


GATE = Gate()


# --------------------------------------------------------------------------------------------
# The dashboard's side


def download_root() -> Path:
    """Where full downloads are written: the app's static folder, served by Streamlit."""
    return Path(__file__).resolve().parents[1] / "static" / "sql"


def download_url(path: Path, base_url_path: str = "") -> str:
    """The address Streamlit's static file handler serves a download at."""
    static = download_root().parent
    base = "/".join(part for part in base_url_path.strip("/").split("/") if part)
    prefix = f"/{base}" if base else ""
    return f"{prefix}/app/static/{path.resolve().relative_to(static).as_posix()}"


def run_preview(
    body: str,
    warehouse: Path,
    limits: Limits,
    *,
    on_wait: Callable[[int], None] | None = None,
) -> Preview:
    """Run a checked SELECT in a worker; the capped result, or QueryStopped."""
    import pyarrow.ipc

    with GATE.slot(limits.concurrent, on_wait), _job_dir() as job:
        out = job / "result.arrow"
        status = _run_worker(job, _job(body, warehouse, limits, "preview", out), limits.seconds)
        with pyarrow.ipc.open_file(out) as reader:
            table = reader.read_all()
        table = table.rename_columns(status["columns"])
    return Preview(
        table=table,
        rows=status["rows"],
        stopped_by=status["stopped_by"],
        cut_cells=status["cut_cells"],
        seconds=status["seconds"],
        nbytes=status["nbytes"],
        worker_peak_bytes=status["worker_peak_bytes"],
    )


def run_download(
    body: str,
    warehouse: Path,
    limits: Limits,
    fmt: str,
    *,
    on_wait: Callable[[int], None] | None = None,
) -> Download:
    """Write the full result of a checked SELECT to a file under `download_root()`."""
    if fmt not in DOWNLOAD_FORMATS:
        raise ValueError(f"download format {fmt!r} is not one of {', '.join(DOWNLOAD_FORMATS)}")
    root = download_root()
    _sweep(root)
    folder = root / secrets.token_urlsafe(16)
    folder.mkdir(parents=True)
    out = folder / f"query_result.{fmt}"
    try:
        with GATE.slot(limits.concurrent, on_wait), _job_dir() as job:
            status = _run_worker(
                job, _job(body, warehouse, limits, fmt, out), limits.download_seconds
            )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Download(
        path=out,
        rows=status["rows"],
        nbytes=status["nbytes"],
        seconds=status["seconds"],
        worker_peak_bytes=status["worker_peak_bytes"],
    )


def _job(body: str, warehouse: Path, limits: Limits, mode: str, out: Path) -> dict[str, Any]:
    return {
        "sql": body,
        "warehouse": str(warehouse),
        "limits": asdict(limits),
        "mode": mode,
        "out": str(out),
    }


@contextlib.contextmanager
def _job_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="custodia-sql-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _sweep(root: Path) -> None:
    """Remove downloads older than DOWNLOAD_KEEP_SECONDS."""
    if not root.is_dir():
        return
    cutoff = time.time() - DOWNLOAD_KEEP_SECONDS
    for folder in root.iterdir():
        with contextlib.suppress(OSError):
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)


def _run_worker(job_dir: Path, job: dict[str, Any], seconds: float) -> dict[str, Any]:
    """Start the worker on `job`, wait at most `seconds` + grace, and return its status."""
    (job_dir / "job.json").write_text(json.dumps(job))
    project = Path(__file__).resolve().parents[2]
    path = os.pathsep.join(filter(None, [str(project), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    started = time.monotonic()
    with (job_dir / "stderr.txt").open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", sandbox_worker.__spec__.name, str(job_dir)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=project,
            env=env,
            start_new_session=True,  # its own process group: killed as one
        )
        returncode, peak, killed = _wait(proc, seconds + KILL_GRACE_SECONDS)
    elapsed = time.monotonic() - started
    status_file = job_dir / "status.json"
    status = json.loads(status_file.read_text()) if status_file.exists() else None
    if status is not None and status.get("ok"):
        return {**status, "worker_peak_bytes": peak}
    if killed:
        raise QueryStopped(
            "time", f"Stopped: the query ran longer than the {seconds:g} s time limit.", peak
        )
    if status is not None:
        raise QueryStopped(status["limit"], status["message"], peak)
    memory_mb = job["limits"]["memory_mb"]
    code = -returncode if returncode < 0 else None
    if code is None:  # a Python error in the worker: a bug, said as it is
        last = (job_dir / "stderr.txt").read_text(errors="replace").strip().splitlines()
        raise QueryStopped(
            "error", f"Query failed in its worker: {last[-1] if last else returncode}", peak
        )
    if code in (signal.SIGXCPU, signal.SIGKILL) and elapsed < seconds:
        raise QueryStopped(
            "cpu", f"Stopped: the query used more than its CPU time ({seconds:g} s limit).", peak
        )
    detail = f"signal {signal.Signals(code).name}" if code else f"exit status {returncode}"
    raise QueryStopped(
        "memory",
        f"Stopped: the query's worker ended abnormally ({detail}), most likely at the "
        f"{memory_mb:,} MiB memory limit.",
        peak,
    )


def _wait(proc: subprocess.Popen, timeout: float) -> tuple[int, int, bool]:
    """Reap the worker within `timeout` (else kill its process group): its return code, its
    peak resident memory in bytes as the kernel counted it (wait4), and whether it was killed."""
    deadline = time.monotonic() + timeout
    killed = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() >= deadline and not killed:
            killed = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # anything it started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss * 1024, killed

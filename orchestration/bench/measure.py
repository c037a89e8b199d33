"""Measuring one subprocess: wall time and the peak RSS of its whole process tree."""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Measure:
    seconds: float
    peak_rss_mib: float
    load: float = 0.0  # 1-minute load average at the end of the run (other work on the box)
    cpu_s: float = 0.0  # user + system CPU seconds of the process tree (waited-for children)


def _tree_rss_kib(root: int) -> int:
    """Sum of VmRSS over ``root`` and all its descendants."""
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def run_measured(cmd: list[str], env: dict | None = None) -> Measure:
    """Run ``cmd``; return wall seconds and the peak RSS of its process tree (sampled every
    50 ms from /proc)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kib(proc.pid))
            done.wait(0.05)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    rc = proc.wait()
    seconds = time.perf_counter() - start
    done.set()
    t.join()
    if rc != 0:
        raise RuntimeError(f"{' '.join(cmd)[:300]} exited {rc}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return Measure(seconds, peak / 1024, os.getloadavg()[0], cpu)


def repeat(cmd: list[str], runs: int, env: dict | None = None, before=None) -> dict:
    """``cmd`` measured ``runs`` times (``before()`` ahead of each): median, range, peak."""
    ms = []
    for _ in range(runs):
        if before:
            before()
        ms.append(run_measured(cmd, env))
    return summary(ms)


def summary(measures: list[Measure]) -> dict:
    """Median and range of the wall times, the highest peak and load of several runs."""
    secs = [m.seconds for m in measures]
    return {
        "median_s": statistics.median(secs),
        "min_s": min(secs),
        "max_s": max(secs),
        "peak_rss_mib": max(m.peak_rss_mib for m in measures),
        "load": max(m.load for m in measures),
    }


def python(code: str) -> list[str]:
    """The command running ``code`` in a fresh interpreter of this environment."""
    return [sys.executable, "-c", code]


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(p * (len(s) - 1))))
    return s[k]


def remove_db(path: Path) -> None:
    """A DuckDB file and everything a build leaves beside it."""
    for p in (path, path.with_name(path.name + ".wal"), path.with_name(path.name + ".building")):
        p.unlink(missing_ok=True)
    shutil.rmtree(path.with_name(path.name + ".tmp"), ignore_errors=True)

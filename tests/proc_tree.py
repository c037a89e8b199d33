"""Peak resident memory of a process tree, read from /proc while it runs (not assumed)."""

from __future__ import annotations

import os
import threading
from pathlib import Path


def _children_of(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(c) for c in task.read_text().split()]
        except OSError:
            continue
    return found


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree(pid: int) -> list[int]:
    """`pid` and every descendant alive now."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo += _children_of(current)
    return out


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and all its descendants, summed."""
    return sum(_rss(p) for p in tree(pid))


def high_water_mark(pid: int) -> int:
    """The peak resident bytes of `pid` itself (VmHWM), kept by the kernel."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class TreePeak:
    """Samples the summed resident memory of a process tree every `interval` seconds while the
    block runs; `peak` is the largest sum seen."""

    def __init__(self, pid: int | None = None, interval: float = 0.01) -> None:
        self.pid = pid or os.getpid()
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss(self.pid))

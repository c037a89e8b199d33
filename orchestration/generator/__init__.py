"""Synthetic exports of the source system, with injected faults and their ground truth.

    from orchestration.generator import generate
    summary = generate(Path("data/sample"), seed=7, scale="tiny")

See docs/generator.md.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from orchestration.generator.faults import Faults
from orchestration.generator.output import Frames, write_all, write_truth
from orchestration.generator.scales import SCALES, Scale
from orchestration.generator.sim import History

__all__ = ["DEFAULT_FAULT_RATE", "FORMATS", "SCALES", "Scale", "generate"]

DEFAULT_FAULT_RATE = 0.002
FORMATS = ("csv", "parquet")


def generate(
    out: Path,
    seed: int = 0,
    scale: str = "tiny",
    fmt: str = "csv",
    fault_rate: float = DEFAULT_FAULT_RATE,
) -> dict:
    """Write a simulated export into ``out`` (replacing the entity folders and ``_truth``).

    ``fault_rate`` is the share of items that get an injected anomaly scenario (spread evenly
    over the anomaly codes, at least two of each code and one of each variant) and, divided by
    ten, of rows per malformed kind (at least two of each). ``fault_rate=0`` writes a clean
    export: no injected anomaly, no malformed row. Returns a small summary: rows per
    entity, exception rows per code, malformed rows per reason, seconds.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose csv or parquet")
    if not 0 <= fault_rate < 0.5:
        raise ValueError("fault_rate must be in [0, 0.5)")
    began = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    from orchestration.contract import ENTITY_NAMES

    for name in (*ENTITY_NAMES, "_truth"):  # only what the generator itself writes
        if (out / name).is_dir():
            shutil.rmtree(out / name)
    p = SCALES[scale]
    h = History(seed, p)
    h.build_world()
    h.simulate()
    n_malformed = 0
    if fault_rate > 0:  # 0: a clean export (only the FS_RETURNED rows every return raises)
        faults = Faults(h)
        faults.inject(max(2, round(fault_rate * p.items / len(faults.scenarios()))))
        n_malformed = max(2, round(fault_rate * p.items / 10 / 17))
    h.draw_chains()
    frames = Frames(h)
    h.chains = None  # the transfers frame holds them now
    written = write_all(h, frames, out, fmt, n_malformed, seed)
    meta = {"seed": seed, "scale": scale, "format": fmt, "fault_rate": fault_rate}
    figures = write_truth(out, h, frames, written, meta)
    return {
        "out": str(out),
        "rows": figures["rows_delivered"],
        "exceptions": figures["exceptions_by_code"],
        "rejects": figures["rejects_by_reason"],
        "seconds": round(time.perf_counter() - began, 2),
    }

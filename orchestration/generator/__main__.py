"""`python -m orchestration.generator --out DIR [--seed N] [--scale S] [--format F]`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from orchestration.generator import DEFAULT_FAULT_RATE, FORMATS, SCALES, generate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="custodia generate", description="Write a simulated export with ground truth."
    )
    ap.add_argument("--out", required=True, type=Path, help="export folder to (re)write")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", choices=list(SCALES), default="tiny")
    ap.add_argument("--format", dest="fmt", choices=FORMATS, default="csv")
    ap.add_argument("--fault-rate", type=float, default=DEFAULT_FAULT_RATE)
    args = ap.parse_args(argv)
    summary = generate(
        args.out, seed=args.seed, scale=args.scale, fmt=args.fmt, fault_rate=args.fault_rate
    )
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

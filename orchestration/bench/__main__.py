"""``python -m orchestration.bench --help`` (``make bench``)."""

from orchestration.bench.runner import main

if __name__ == "__main__":
    raise SystemExit(main())

"""The ``custodia`` command: generate exports, build the warehouse, close a month, serve the
dashboard."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from orchestration import settings


def _cmd_generate(args: argparse.Namespace) -> int:
    from orchestration.generator import generate

    summary = generate(
        Path(args.out),
        seed=args.seed,
        scale=args.scale,
        fmt=args.format,
        **({"fault_rate": args.fault_rate} if args.fault_rate is not None else {}),
    )
    rows = summary.get("rows", {})
    print(f"custodia generate: wrote {args.out} (scale {args.scale}, seed {args.seed})")
    for entity, n in rows.items():
        print(f"  {entity:<20} {n:>12,} rows")
    if "seconds" in summary:
        print(f"  in {summary['seconds']:.1f} s")
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from orchestration.build import run_build

    data = Path(args.data).expanduser().resolve() if args.data else settings.landing_path()
    warehouse = (
        Path(args.warehouse).expanduser().resolve() if args.warehouse else settings.warehouse_path()
    )
    report = run_build(
        data,
        warehouse,
        echo=print,
        full_refresh=args.full_refresh,
        full_check=args.full_check,
        engine=args.engine,
    )
    return 0 if report.ok else 1


def _cmd_close(args: argparse.Namespace) -> int:
    from orchestration.close import run_close

    warehouse = (
        Path(args.warehouse).expanduser().resolve() if args.warehouse else settings.warehouse_path()
    )
    run_close(warehouse, args.month, closed_by=args.by, echo=print)
    return 0


# Options of every dashboard process (`custodia dashboard`; the tests' AppTest sets the same).
STREAMLIT_OPTIONS = ("--runner.magicEnabled", "false")


def streamlit_command(warehouse: Path, host: str, port: int) -> tuple[list[str], dict[str, str]]:
    """The command and environment that serve the dashboard on `warehouse` (also used by the
    browser tests, so they test what `custodia dashboard` runs)."""
    app = settings.PROJECT_ROOT / "dashboards" / "app.py"
    env = {**os.environ, settings.WAREHOUSE_ENV: str(warehouse)}
    env.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        # full SQL-page downloads are files under dashboards/static/, streamed from there
        "--server.enableStaticServing",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
        # no "magic" (bare expressions written to the page; the pages call st.* explicitly):
        # it re-parses each page with ast.parse on every run, and CPython 3.11 raises
        # "AST constructor recursion depth mismatch" when two sessions' threads do that at once
        *STREAMLIT_OPTIONS,
    ]
    return cmd, env


def _cmd_dashboard(args: argparse.Namespace) -> int:
    warehouse = (
        Path(args.warehouse).expanduser().resolve() if args.warehouse else settings.warehouse_path()
    )
    cmd, env = streamlit_command(warehouse, args.host, args.port)
    print(f"custodia dashboard: serving {warehouse} at http://{args.host}:{args.port}", flush=True)
    return subprocess.call(cmd, env=env)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="custodia",
        description="Facility-stock warehouse: generate exports, build, serve the dashboard.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="simulate an organization and write export files")
    gen.add_argument("--out", required=True, help="landing folder to write")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--scale", default="tiny", choices=["tiny", "small", "medium", "large"])
    gen.add_argument("--format", default="csv", choices=["csv", "parquet"])
    gen.add_argument(
        "--fault-rate",
        type=float,
        default=None,
        help="share of records that carry an injected fault",
    )
    gen.set_defaults(func=_cmd_generate)

    b = sub.add_parser("build", help="ingest the landing folder and build every mart")
    b.add_argument(
        "--data", help=f"landing folder (default ${settings.LANDING_ENV} or data/sample)"
    )
    b.add_argument(
        "--warehouse",
        help=f"DuckDB file (default ${settings.WAREHOUSE_ENV} or data/warehouse/custodia.duckdb)",
    )
    b.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild the incremental models from every delivered row (default: new rows only)",
    )
    b.add_argument(
        "--full-check",
        action="store_true",
        help="run every data test over every row (default: an incremental build tests the "
        "rows it wrote in the incremental models)",
    )
    b.add_argument(
        "--engine",
        default="duckdb",
        choices=["duckdb", "spark"],
        help="where the dbt models run: duckdb (embedded, default) or spark (needs the "
        "custodia[spark] extra and Java; marts stored as Parquet beside the DuckDB file)",
    )
    b.set_defaults(func=_cmd_build)

    c = sub.add_parser(
        "close",
        help="month-end close: freeze a month's reconciliation into audit.closed_months",
        description=(
            "Freeze the month's rows of marts.rpt_reconciliation_monthly (every facility, every "
            "figure) into the append-only audit.closed_months; later builds report what changed "
            "in marts.rpt_restatements. Exit 0 when closed, 3 when the month is already closed, "
            "2 when refused for another reason (nothing is changed then)."
        ),
    )
    c.add_argument("--month", required=True, help="the month to close, YYYY-MM")
    c.add_argument(
        "--warehouse",
        help=f"DuckDB file (default ${settings.WAREHOUSE_ENV} or data/warehouse/custodia.duckdb)",
    )
    c.add_argument("--by", help="who closes (default: the operating-system user)")
    c.set_defaults(func=_cmd_close)

    d = sub.add_parser("dashboard", help="serve the Streamlit dashboard on 127.0.0.1")
    d.add_argument("--warehouse")
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=int, default=8501)
    d.set_defaults(func=_cmd_dashboard)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    args = build_parser().parse_args(argv)
    from orchestration.build import BuildError

    try:
        return args.func(args)
    except BuildError as exc:
        print(f"custodia {args.command}: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 2)


if __name__ == "__main__":
    raise SystemExit(main())

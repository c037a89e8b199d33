"""The bench's floor (``orchestration.bench.baselines.floor``) computes the warehouse's marts.

Every mart the floor computes is compared with the same mart of a real ``custodia build`` of the
same landing folder, on every column both have (``EXCEPT ALL`` both ways, so duplicates count),
on the bundled sample and on random histories with rejected rows, failed files and newer
versions. ``fct_exceptions`` is compared on code, severity, keys and ``occurred_at``: the
floor's ``detail`` text is its own. The floor's loading step is compared with ``raw.*``.
"""

from __future__ import annotations

import random
import subprocess
import sys

import duckdb
import pytest
from histories import Landing, random_history
from oracle.builder import World

from orchestration import settings
from orchestration.bench.baselines import floor, floor_load
from orchestration.build import run_build
from orchestration.contract import ENTITIES

# columns never compared: surrogate keys built from the others, and the floor's own wording
NOT_COMPARED = {"exception_id", "event_line_id", "detail"}
# what the business spec names for each mart (besides its keys): each must be compared
CONTRACT = {
    "fct_custody_intervals": ["item_id", "custodian_id", "valid_from", "valid_to"],
    "fct_inventory_status": [
        "item_id", "custodian_id", "is_active", "is_facility_stock", "facility_id",
        "quantity_remaining", "deactivated_at", "deactivation_reason",
    ],
    "fct_facility_stock": [
        "item_id", "facility_id", "seller_id", "stocking_order_id", "sold_at", "quantity_sold",
        "quantity_used", "quantity_returned", "quantity_on_hand", "unit_price", "value_on_hand",
        "status",
    ],
    "fct_facility_stock_access": ["item_id", "facility_id", "user_id", "access_path"],
    "fct_event_lines": [
        "event_id", "line_no", "event_type", "event_date", "facility_id", "representative_id",
        "item_id", "quantity", "usage_class", "access_path", "custodian_at_use",
        "expected_amount", "billed_amount",
    ],
    "fct_sales": [
        "event_id", "line_no", "item_id", "event_type", "facility_id", "representative_id",
        "sold_at", "catalog_number", "quantity", "amount", "commission_amount",
    ],
    "fct_exceptions": [
        "code", "severity", "event_id", "line_no", "item_id", "user_id", "facility_id",
        "transfer_id", "occurred_at",
    ],
    "rpt_stock_levels": [
        "facility_id", "catalog_number", "quantity_on_hand", "value_on_hand", "items",
        "oldest_sold_at", "next_expiration", "quantity_expiring_90d", "eligible_users",
    ],
    "rpt_reconciliation_monthly": [
        "month", "facility_id", "stocking_order_revenue", "case_sale_revenue",
        "expected_revenue", "billed_revenue", "double_billed_amount", "unbilled_amount",
        "non_sale_units", "non_sale_value", "returned_value",
    ],
    "dim_users": ["user_id", "role", "is_custodian_only", "commission_rate"],
    "dim_facilities": ["facility_id"],
    "dim_products": ["catalog_number", "list_price", "is_single_use"],
}  # fmt: skip


def _floor(landing) -> duckdb.DuckDBPyConnection:
    con = floor.connect()
    floor.run(con, landing)
    return con


def _differences(con, warehouse, mart: str) -> tuple[list[str], list, list]:
    """(columns compared, rows only the floor has, rows only the warehouse has)."""
    con.execute(f"attach if not exists '{warehouse}' as wh (read_only)")
    ours = {r[0] for r in con.execute(f"describe f_{mart}").fetchall()}
    theirs = [r[0] for r in con.execute(f"describe wh.marts.{mart}").fetchall()]
    cols = ", ".join(c for c in theirs if c in ours and c not in NOT_COMPARED)
    a, b = f"select {cols} from f_{mart}", f"select {cols} from wh.marts.{mart}"
    only_floor = con.execute(f"{a} except all {b} limit 5").fetchall()
    only_warehouse = con.execute(f"{b} except all {a} limit 5").fetchall()
    return cols.split(", "), only_floor, only_warehouse


@pytest.fixture(scope="module")
def sample_floor(sample_dir):
    con = _floor(sample_dir)
    yield con
    con.close()


def test_the_floor_computes_every_mart_the_spec_names():
    assert sorted(floor.MARTS) == sorted(CONTRACT)


@pytest.mark.parametrize("mart", floor.MARTS)
def test_floor_mart_equals_the_warehouse_mart_on_the_sample(sample_floor, sample_warehouse, mart):
    cols, only_floor, only_warehouse = _differences(sample_floor, sample_warehouse, mart)
    assert set(CONTRACT[mart]) <= set(cols), sorted(set(CONTRACT[mart]) - set(cols))
    rows = sample_floor.execute(f"select count(*) from f_{mart}").fetchone()[0]
    assert rows > 0
    assert only_floor == [] and only_warehouse == [], (only_floor, only_warehouse)


def test_floor_raises_all_19_codes_on_the_sample(sample_floor):
    codes = sample_floor.execute("select distinct code from f_fct_exceptions").fetchall()
    seed = sample_floor.execute("select code from b_exception_codes").fetchall()
    assert len(seed) == 19 and sorted(codes) == sorted(seed)


def test_floor_loads_the_rows_ingestion_loads(sample_dir, sample_warehouse):
    """Rows that cannot be typed are skipped, as ingestion sets them aside."""
    con = floor.connect()
    floor_load.load(con, sample_dir)
    con.execute(f"attach '{sample_warehouse}' as wh (read_only)")
    for name, entity in ENTITIES.items():
        cols = ", ".join(entity.column_names)
        a, b = f"select {cols} from w.raw.{name}", f"select {cols} from wh.raw.{name}"
        assert con.execute(f"select count(*) from ({a} except all {b})").fetchone() == (0,)
        assert con.execute(f"select count(*) from ({b} except all {a})").fetchone() == (0,)
    con.close()


def test_the_floor_runs_as_a_process(sample_dir):
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.bench.baselines.floor", str(sample_dir)],
        capture_output=True, text=True, cwd=settings.PROJECT_ROOT, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"floor: {len(floor.MARTS)} marts, ")


# rejected rows, failed files, a file delivered twice: a full build of one landing folder
HISTORY_FAULTS = ["malformed_row", "malformed_row", "duplicate_file", "empty", "missing_column"]


@pytest.fixture(scope="module")
def history_build(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("floor_histories")
    world = World()
    for k in range(6):
        random_history(world, random.Random(500 + k), f"F{k:02d}_")
    landing = Landing(world, random.Random(51), list(HISTORY_FAULTS))
    root = tmp / "landing"
    landing.write(root, 1)
    landing.write(root, 2)
    warehouse = tmp / "custodia.duckdb"
    report = run_build(root, warehouse, echo=lambda _line: None)
    assert report.ok, [f for s in report.stages for f in s.failures]
    con = _floor(root)
    yield con, warehouse
    con.close()


@pytest.mark.parametrize("mart", floor.MARTS)
def test_floor_mart_equals_the_warehouse_mart_on_random_histories(history_build, mart):
    con, warehouse = history_build
    _cols, only_floor, only_warehouse = _differences(con, warehouse, mart)
    assert only_floor == [] and only_warehouse == [], (only_floor, only_warehouse)


def test_a_quoted_empty_key_far_down_a_file_is_skipped(tmp_path):
    """The floor reads the contract's CSV dialect, not a sniffed one: a quoted ``""`` after the
    sniffer's sample is an empty key (ingestion rejects the row), not two quote characters."""
    (tmp_path / "users").mkdir()
    header = ",".join(ENTITIES["users"].column_names)
    row = "{},a@b.c,A B,SALES,false,true,0.1000,West,2024-01-01T00:00:00Z,2024-01-01T00:00:00Z"
    lines = [header] + [row.format(f"U{n}") for n in range(25_000)] + [row.format('""')]
    (tmp_path / "users" / "users_0001.csv").write_text("\n".join(lines) + "\n")
    con = floor.connect()
    floor_load.load_entity(con, tmp_path, ENTITIES["users"])
    counts = con.execute("select count(*), count(distinct user_id) from w.raw.users").fetchone()
    assert counts == (25_000, 25_000)

"""The data generator: determinism, the export contract, the truth, and a clean clean part."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import oracle
import pyarrow.parquet as pq
import pytest
from oracle.compare import diff_exceptions, load_exceptions_csv

from orchestration import settings
from orchestration.contract import ADMIN_ROLES, ENTITIES, EXCEPTION_KEY_COLUMNS, SUBMITTED_STATUSES
from orchestration.generator import SCALES, generate

MALFORMED_KINDS = (
    "bad_enum", "bad_timestamp", "missing_key", "negative_quantity", "wrong_type", "bad_boolean",
)  # fmt: skip


def anomaly_codes() -> set[str]:
    """Every anomaly code: the warehouse's seed of exception codes (docs/rules.md)."""
    seed = settings.DBT_PROJECT_DIR / "seeds" / "exception_codes.csv"
    with seed.open(newline="", encoding="utf-8") as f:
        return {r["code"] for r in csv.DictReader(f)}


# the committed sample and the command that makes it (docs/generator.md)
SAMPLE_ARGS = {"seed": 7, "scale": "tiny", "fmt": "csv"}


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "export"
    generate(out, **SAMPLE_ARGS)
    return out


# ---------------------------------------------------------------- parsing helpers
def _ts(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert value.tzinfo is not None, text
    return value.astimezone(UTC)


def _parse(col, text: str):
    if text == "":
        assert not col.required, f"{col.name} is required"
        return None
    if col.max_length is not None:
        assert len(text) <= col.max_length, f"{col.name} longer than {col.max_length}: {text!r}"
    if col.enum:
        assert text in col.enum, f"{col.name}={text!r}"
    if col.type == "timestamp":
        return _ts(text)
    if col.type == "date":
        return date.fromisoformat(text)
    if col.type == "boolean":
        assert text in ("true", "false"), f"{col.name}={text!r}"
        return text == "true"
    if col.type == "integer":
        value = int(text)
        assert value >= 0
        return value
    if col.type in ("money", "rate"):
        value = Decimal(text)
        places = 2 if col.type == "money" else 4
        assert value.as_tuple().exponent == -places and value >= 0, f"{col.name}={text!r}"
        return value
    return text


def _read(root: Path) -> tuple[dict[str, list[dict]], list[dict]]:
    """Clean rows per entity (expected rejects left out, in delivery order) and the rejects."""
    rejects = list(csv.DictReader((root / "_truth/expected_rejects.csv").open()))
    skip = {(r["file"], int(r["row"])) for r in rejects}
    rows: dict[str, list[dict]] = defaultdict(list)
    for name, spec in ENTITIES.items():
        for path in sorted((root / name).glob("*.csv")):
            rel = path.relative_to(root).as_posix()
            with path.open(newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                assert tuple(reader.fieldnames) == spec.column_names, rel
                for i, raw in enumerate(reader, start=1):
                    if (rel, i) in skip:
                        continue
                    row = {c.name: _parse(c, raw[c.name]) for c in spec.columns}
                    row["_raw"] = raw
                    rows[name].append(row)
    return rows, rejects


def _snapshot(rows: dict[str, list[dict]]) -> dict[str, dict[tuple, dict]]:
    """Newest updated_at wins, then the later delivery (rows are in delivery order)."""
    snap: dict[str, dict[tuple, dict]] = {}
    for name, spec in ENTITIES.items():
        best: dict[tuple, dict] = {}
        for row in rows[name]:
            key = tuple(row[k] for k in spec.key)
            prev = best.get(key)
            if (
                prev is None
                or not spec.versioned_by
                or row[spec.versioned_by] >= prev[spec.versioned_by]
            ):
                best[key] = row
        snap[name] = best
    return snap


@pytest.fixture(scope="module")
def parsed(export):
    rows, rejects = _read(export)
    truth = list(csv.DictReader((export / "_truth/expected_exceptions.csv").open()))
    return rows, _snapshot(rows), rejects, truth


# ---------------------------------------------------------------- tests
def test_scales_and_signature():
    assert list(SCALES) == ["tiny", "small", "medium", "large"]
    assert SCALES["tiny"].items == 2_000 and SCALES["medium"].items == 1_000_000
    with pytest.raises(ValueError):
        generate(Path("unused"), scale="huge")


def test_same_seed_same_bytes(export, tmp_path):
    again = tmp_path / "again"
    generate(again, **SAMPLE_ARGS)
    assert _files(export) == _files(again)


def test_other_seed_other_history(export, tmp_path):
    other = tmp_path / "other"
    generate(other, seed=8, scale="tiny")
    assert _files(export)["events/events_0001.csv"] != _files(other)["events/events_0001.csv"]


def test_committed_sample_is_regenerated_bit_for_bit(export):
    sample = Path(__file__).resolve().parent.parent / "data" / "sample"
    assert _files(sample) == _files(export), (
        "data/sample is stale: python -m orchestration.generator "
        "--out data/sample --seed 7 --scale tiny"
    )


def test_layout_and_contract(export, parsed):
    rows, _snap, rejects, _truth = parsed
    for name in ENTITIES:
        files = sorted(p.name for p in (export / name).iterdir())
        assert len(files) == SCALES["tiny"].files
        assert files == [f"{name}_{i:04d}.csv" for i in range(1, len(files) + 1)]
        assert rows[name], name
    # every malformed row really breaks its column and only that one
    for r in rejects:
        with (export / r["file"]).open(newline="", encoding="utf-8") as fh:
            raw = list(csv.DictReader(fh))[int(r["row"]) - 1]
        spec = ENTITIES[r["entity"]]
        broken = []
        for c in spec.columns:
            try:
                _parse(c, raw[c.name])
            except (AssertionError, ValueError, ArithmeticError):
                broken.append(c.name)
        if r["reason"] == "negative_amount":
            assert broken == [r["column"]] and Decimal(raw[r["column"]]) < 0
        else:
            assert broken == [r["column"]], (r, raw)


def test_offsets_mean_the_same_instant(parsed):
    rows, *_ = parsed
    shifted = [r for r in rows["transfers"] if r["_raw"]["created_at"].endswith("+02:00")]
    assert shifted
    for r in shifted:
        assert r["created_at"].utcoffset().total_seconds() == 0


def test_versions_are_delivered(parsed):
    rows, snap, *_ = parsed
    for name in ("events", "transfers", "distributor_links"):
        assert len(rows[name]) > len(snap[name]), name
    opened = {r["event_id"] for r in rows["events"] if r["status"] == "OPEN"}
    assert any(snap["events"][(e,)]["status"] in SUBMITTED_STATUSES for e in opened)
    assert any(r["unlinked_at"] for r in snap["distributor_links"].values())


def test_truth_covers_every_code_and_malformed_kind(parsed):
    _rows, _snap, rejects, truth = parsed
    codes = {r["code"] for r in truth}
    assert codes == anomaly_codes()
    assert set(MALFORMED_KINDS) <= {r["reason"] for r in rejects}
    assert all(tuple(r) == EXCEPTION_KEY_COLUMNS for r in truth)


def test_figures_match_truth(export, parsed):
    rows, _snap, rejects, truth = parsed
    fig = json.loads((export / "_truth/figures.json").read_text())
    counts = defaultdict(int)
    for r in truth:
        counts[r["code"]] += 1
    assert fig["exceptions_by_code"] == dict(sorted(counts.items()))
    assert fig["as_of"] == "2026-01-01T00:00:00Z"
    delivered = {n: len(rows[n]) + sum(1 for r in rejects if r["entity"] == n) for n in ENTITIES}
    assert fig["rows_delivered"] == delivered


def _flagged(truth, code, col):
    return {r[col] for r in truth if r["code"] == code}


def test_clean_custody_chains(parsed):
    """Replay accepted transfers: from = custodian unless injected; no admin custody."""
    _rows, snap, _rejects, truth = parsed
    users = snap["users"]
    items = snap["inventory_items"]
    custodian = {k[0]: r["initial_custodian_id"] for k, r in items.items()}
    moves = sorted(
        (r["responded_at"] or r["updated_at"], r["transfer_id"], r)
        for r in snap["transfers"].values()
        if r["status"] == "ACCEPTED"
    )
    not_from = _flagged(truth, "TRANSFER_NOT_FROM_CUSTODIAN", "transfer_id")
    inactive = _flagged(truth, "INACTIVE_ITEM_USED", "transfer_id")
    holders = _flagged(truth, "NON_CUSTODIAL_HOLDER", "item_id")
    checked = 0
    for _t, tid, r in moves:
        item = r["item_id"]
        assert item in custodian
        if r["from_custodian_id"] != custodian[item]:
            assert tid in not_from, tid
        elif tid not in inactive:
            checked += 1
        custodian[item] = r["to_custodian_id"]
        to = r["to_custodian_id"]
        if to != "ORG" and users[(to,)]["role"] in (*ADMIN_ROLES, "REGIONAL_MANAGER"):
            assert item in holders
    assert checked > 1_000


def test_clean_lines_billing_and_facility(parsed):
    """Sale lines billed exactly, facility stock used only at its facility, unless injected."""
    _rows, snap, _rejects, truth = parsed
    events = {k[0]: r for k, r in snap["events"].items()}
    flagged = {(r["event_id"], r["line_no"]) for r in truth if r["line_no"]}
    fs_facility: dict[str, str] = {}
    lines = sorted(
        (ln for ln in snap["event_lines"].values() if ln["event_id"] in events),  # known events
        key=lambda ln: (
            (events[ln["event_id"]]["event_date"] if events[ln["event_id"]]["event_type"] == "CASE"
             else events[ln["event_id"]]["submitted_at"]) or events[ln["event_id"]]["event_date"],
            ln["event_id"], ln["line_no"],
        ),
    )  # fmt: skip
    n_sale = 0
    for ln in lines:
        ev = events[ln["event_id"]]
        key = (ln["event_id"], str(ln["line_no"]))
        if ev["status"] not in SUBMITTED_STATUSES or ln["usage_status"] == "UNUSED":
            continue
        if ev["event_type"] == "STOCKING_ORDER":
            expected = Decimal(0) if ln["no_charge"] else ln["unit_price"] * ln["quantity"]
            assert ln["billed_amount"] == expected
            if not ev["deactivate_on_submit"]:
                fs_facility[ln["item_id"]] = ev["facility_id"]
        elif ev["event_type"] == "CASE" and key not in flagged:
            if ln["item_id"] in fs_facility:
                assert fs_facility[ln["item_id"]] == ev["facility_id"]
                assert ln["billed_amount"] == 0
            else:
                expected = Decimal(0) if ln["no_charge"] else ln["unit_price"] * ln["quantity"]
                assert ln["billed_amount"] == expected, key
                n_sale += 1
    assert n_sale > 300


def test_clean_links_do_not_overlap(parsed):
    _rows, snap, _rejects, truth = parsed
    users = {k[0]: r for k, r in snap["users"].items()}
    flagged = {(r["user_id"], r["related_user_id"]) for r in truth if r["code"] == "LINK_OVERLAP"}
    by_sales = defaultdict(list)
    for r in snap["distributor_links"].values():
        d, s = users.get(r["distributor_user_id"]), users.get(r["sales_user_id"])
        if d and s and d["role"] == "DISTRIBUTOR" and s["role"] == "SALES":
            by_sales[r["sales_user_id"]].append(r)
    for s, links in by_sales.items():
        links.sort(key=lambda r: (r["linked_at"], r["distributor_user_id"]))
        for i, later in enumerate(links):
            for earlier in links[:i]:
                end = earlier["unlinked_at"]
                if (end is None or later["linked_at"] < end) and earlier[
                    "distributor_user_id"
                ] != later["distributor_user_id"]:
                    assert (s, later["distributor_user_id"]) in flagged


def test_custodian_only_users_act_only_when_injected(parsed):
    _rows, snap, _rejects, truth = parsed
    users = {k[0]: r for k, r in snap["users"].items()}
    flagged = _flagged(truth, "CUSTODIAN_ONLY_REP", "event_id")
    for (eid,), ev in snap["events"].items():
        rep = users.get(ev["representative_id"])
        if ev["event_type"] == "CASE" and rep and rep["is_custodian_only"]:
            assert eid in flagged


def test_parquet_output(tmp_path, export):
    out = tmp_path / "pq"
    summary = generate(out, seed=7, scale="tiny", fmt="parquet")
    csv_rows, rejects = _read(export)
    for name, spec in ENTITIES.items():
        files = sorted((out / name).glob("*.parquet"))
        assert len(files) == SCALES["tiny"].files
        total = 0
        for f in files:
            table = pq.read_table(f)
            assert tuple(table.column_names) == spec.column_names
            total += table.num_rows
            if any(r["file"] == f"{name}/{f.name}".replace(".parquet", ".csv") for r in rejects):
                continue  # malformed rows: every column as text
            types = {fld.name: str(fld.type) for fld in table.schema}
            for c in spec.columns:
                if c.type == "timestamp":
                    assert types[c.name] == "timestamp[us, tz=UTC]"
                elif c.type == "money":
                    assert types[c.name] == "decimal128(18, 2)"
                elif c.type == "boolean":
                    assert types[c.name] == "bool"
        assert total == summary["rows"][name]
    # same seed, same history whatever the format
    assert (out / "_truth/expected_exceptions.csv").read_bytes() == (
        export / "_truth/expected_exceptions.csv"
    ).read_bytes()
    digest = hashlib.sha256((out / "events/events_0001.parquet").read_bytes()).hexdigest()
    generate(tmp_path / "pq2", seed=7, scale="tiny", fmt="parquet")
    assert (
        hashlib.sha256((tmp_path / "pq2/events/events_0001.parquet").read_bytes()).hexdigest()
        == digest
    )


def test_truth_agrees_with_the_independent_oracle(export):
    """tests/oracle (a plain-Python reading of the rules) finds exactly the truth rows."""
    rejects = {
        (r["file"], int(r["row"]))
        for r in csv.DictReader((export / "_truth/expected_rejects.csv").open())
    }
    data: dict[str, list[dict]] = defaultdict(list)
    files = sorted(
        p.relative_to(export).as_posix()
        for p in export.glob("*/*.csv")
        if not p.parent.name.startswith("_")
    )
    for file_id, rel in enumerate(files, start=1):
        with (export / rel).open(newline="", encoding="utf-8") as fh:
            for i, row in enumerate(csv.DictReader(fh), start=1):
                if (rel, i) not in rejects:
                    data[rel.split("/")[0]].append({**row, "_file_id": file_id, "_row_number": i})
    result = oracle.run(dict(data), as_of="2026-01-01T00:00:00")
    missing, extra = diff_exceptions(
        load_exceptions_csv(export / "_truth/expected_exceptions.csv"), result.exceptions
    )
    assert (missing, extra) == ([], [])
    fig = json.loads((export / "_truth/figures.json").read_text())
    for key in (
        "facility_stock_units_on_hand",
        "facility_stock_value_on_hand",
        "sales_ledger_total",
        "double_billed_amount",
    ):
        assert Decimal(str(result.figures[key])) == Decimal(fig[key]), key
    assert len(result.sales) == fig["sales_ledger_lines"]


def test_fault_rate_zero_is_a_clean_export(tmp_path):
    out = tmp_path / "clean"
    summary = generate(out, seed=3, scale="tiny", fault_rate=0)
    assert set(summary["exceptions"]) <= {"FS_RETURNED"}  # every return of facility stock
    assert summary["rejects"] == {}
    assert (out / "_truth/expected_rejects.csv").read_text() == "entity,file,row,reason,column\n"

"""Differential test: random histories delivered as files → the real build → marts = oracle.

Hypothesis draws a *batch*: several independent histories (``histories.random_history``, one
seed each, disjoint id prefixes; one may use hostile ids with quotes, commas and a formula
prefix), how they are spread over delivery files, and a list of faults. The batch is delivered
in two phases: phase 1 is built (or, drawn at random, only ingested, as the sensor's job does),
then phase 2 arrives and ``custodia build`` runs again (ingest + dbt build + publish, in
process), so incremental loading and any incremental model see later versions of earlier rows.
After each build:

- every delivered file has its audit row, with the status and counts it must have; every
  malformed row is in ``audit.rejected_rows`` and nowhere else; whole-file faults are FAILED;
- the raw tables hold exactly the valid delivered rows, each once per delivery (nothing lost,
  nothing duplicated, files seen before not loaded again);
- every mart equals the independent oracle (``tests/oracle``) run on those rows: custody
  intervals, inventory status, facility stock, access, event-line classes and amounts, the
  sales ledger, exceptions and the headline figures (``dbt_support.assert_marts_agree``).

One build checks a whole batch (dbt's cost is mostly fixed), so the bounded run in ``make test``
checks a few batches; ``make fuzz`` (hypothesis profile ``fuzz``) runs many more. Shrinking is
off (each example is a real build); a failure names the seeds of the histories that disagree.
"""

from __future__ import annotations

import collections
import random
import re
import tempfile
from pathlib import Path

import dbt_support as h
import oracle
import pytest
from histories import WHOLE_FILE_FAULTS, Landing, budget, random_history
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st
from oracle.builder import World

from orchestration.build import run_build
from orchestration.contract import ENTITIES
from orchestration.ingest import ingest_into

HISTORIES_PER_BUILD = 30
HOSTILE_PREFIX = '=X,"é '  # ids that need quoting and start like a spreadsheet formula
FAULTS = (
    "malformed_row",
    "duplicate_file",
    "changed_file",
    "removed_file",
    *WHOLE_FILE_FAULTS,
)

batches = st.fixed_dictionaries(
    {
        "seeds": st.lists(
            st.integers(0, 2**32 - 1), min_size=HISTORIES_PER_BUILD, max_size=HISTORIES_PER_BUILD
        ),
        "render_seed": st.integers(0, 2**32 - 1),
        "faults": st.lists(st.sampled_from(FAULTS), max_size=10),
        "hostile_ids": st.booleans(),
        "build_each_phase": st.booleans(),  # else phase 1 is only ingested
    }
)


def _prefix(batch: dict, k: int) -> str:
    return HOSTILE_PREFIX if batch["hostile_ids"] and k == 0 else f"H{k:02d}_"


def check_batch(batch: dict, tmp: Path) -> None:
    """Deliver the batch in two phases, build, and check deliveries, raw tables and marts."""
    world = World()
    for k, seed in enumerate(batch["seeds"]):
        random_history(world, random.Random(seed), _prefix(batch, k))
    landing = Landing(world, random.Random(batch["render_seed"]), list(batch["faults"]))
    root, warehouse = tmp / "landing", tmp / "custodia.duckdb"
    landing.write(root, 1)
    if batch["build_each_phase"]:
        _build(root, warehouse)
        _verify(batch, warehouse, landing, upto_phase=1)
    else:
        ingest_into(warehouse, root)  # an ingest-only run (as the sensor's job would do)
    landing.write(root, 2)
    _build(root, warehouse)
    _verify(batch, warehouse, landing, upto_phase=2)


def _build(root: Path, warehouse: Path) -> None:
    log: list[str] = []
    report = run_build(root, warehouse, echo=log.append)
    assert report.ok, "\n".join(log[-40:])
    assert not warehouse.with_name(warehouse.name + ".building").exists()


def _verify(batch: dict, warehouse: Path, landing: Landing, upto_phase: int) -> None:
    audit = h.fetch(warehouse, "select * from audit.ingested_files order by file_id")
    file_ids: dict[str, list[int]] = collections.defaultdict(list)
    for row in audit:
        file_ids[row["source_file"]].append(row["file_id"])
    _check_deliveries(warehouse, landing.delivered(upto_phase), audit)
    expected = landing.expected_rows(file_ids, upto_phase)
    _check_raw_equals(warehouse, expected)
    try:
        h.assert_marts_agree(warehouse, oracle.run(expected))
    except AssertionError as exc:
        text = str(exc)
        bad = [
            (_prefix(batch, k), seed)
            for k, seed in enumerate(batch["seeds"])
            if _prefix(batch, k) in text
        ]
        raise AssertionError(
            f"after phase {upto_phase}: histories that disagree (prefix, seed): {bad}; "
            f"faults {batch['faults']}, render_seed {batch['render_seed']}\n{text}"
        ) from None


def _check_deliveries(warehouse: Path, delivered: list, audit: list[dict]) -> None:
    by_file = collections.defaultdict(list)
    for row in audit:
        by_file[row["source_file"]].append(row)
    assert sorted(by_file) == sorted({f.source_file for f in delivered}), "one audit row a file"
    seen = collections.Counter()
    rejected = collections.Counter()
    for f in delivered:
        row = by_file[f.source_file][seen[f.source_file]]
        seen[f.source_file] += 1
        if f.fails:
            assert row["status"] == "FAILED" and row["error"], (f.source_file, f.fmt, row)
            assert row["rows_loaded"] in (None, 0), row
            continue
        status = "LOADED_WITH_REJECTS" if f.bad else "LOADED"
        assert (row["status"], row["rows_read"], row["rows_rejected"]) == (
            status,
            len(f.rows),
            len(f.bad),
        ), (f.source_file, f.fmt, row)
        for pos, column in f.bad.items():
            rejected[(row["file_id"], pos + 1, column)] += 1
    # a file seen before (same path and bytes) is never loaded again
    assert all(len(v) == seen[k] for k, v in by_file.items()), "a file was loaded twice"
    rejects = h.fetch(warehouse, "select _file_id, row_number, reasons from audit.rejected_rows")
    got = collections.Counter()
    for r in rejects:
        names = {c for c in re.findall(r"(\w+) ", r["reasons"])}
        column = next(
            (c for (fid, n, c) in rejected if (fid, n) == (r["_file_id"], r["row_number"])), None
        )
        assert column in names, (r, column)
        got[(r["_file_id"], r["row_number"], column)] += 1
    assert got == rejected


def _check_raw_equals(warehouse: Path, expected: dict[str, list[dict]]) -> None:
    """raw.<entity> holds exactly the valid delivered rows: no row lost, none duplicated."""
    actual = oracle.load_from_duckdb(warehouse)
    for entity, spec in ENTITIES.items():
        cols = [*spec.column_names, "_file_id", "_row_number"]
        mine = collections.Counter(tuple(r.get(c) for c in cols) for r in actual[entity])
        theirs = collections.Counter(tuple(r.get(c) for c in cols) for r in expected[entity])
        assert mine == theirs, (
            entity,
            f"only in raw: {list((mine - theirs).elements())[:3]}",
            f"only expected: {list((theirs - mine).elements())[:3]}",
        )


def _agree(batch: dict) -> None:
    with tempfile.TemporaryDirectory(prefix="custodia_diff_") as tmp:
        check_batch(batch, Path(tmp))


# A fixed batch run every time (and the place for any counterexample found: add its seeds).
REGRESSION = {
    "seeds": list(range(HISTORIES_PER_BUILD)),
    "render_seed": 0,
    "faults": list(FAULTS),
    "hostile_ids": True,
    "build_each_phase": True,
}


@pytest.mark.slow
@settings(
    max_examples=budget(1, 40),  # batches: 1 (+ the example) in `make test`
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: a build per step
)
@example(batch=REGRESSION)
@given(batch=batches)
def test_built_marts_equal_the_oracle_on_random_histories(batch):
    _agree(batch)

"""The benchmark harness: ``make bench`` (``python -m orchestration.bench --help``).

Not part of the shipped product: nothing else in ``orchestration`` imports it, and it needs the
``bench`` extra (pandas, pillow). Every figure comes from a subprocess whose wall time and peak
memory are measured (``measure``); baselines are measured in the same run on the same files, so
ratios compare like with like. The figures go between the markers of ``docs/benchmarks.md``
(``report``; the prose around them is written by hand) and a chart of time versus size to
``docs/benchmarks.png``.

Stages (``runner``): ``fixed`` once, on the bundled sample (a rebuild with nothing new: what a
build costs whatever the data, split into start, ingest steps, dbt start and parse, summary);
then per scale:

- ``generate``: the export is generated once into ``data/bench/<scale>-seed11`` (cached, with
  the generator's time and peak beside it);
- ``ingest``: ingestion + pandera validation of every file vs a bare DuckDB ``read_csv`` load
  of the same files;
- ``build``: a full ``custodia build`` into an empty warehouse, split into ingest, dbt models
  and dbt tests (from dbt's ``run_results.json``), then the baselines of the core marts
  (custody, access and classification: a hand-written DuckDB script and a pandas
  implementation of each, ``orchestration/bench/baselines``) on that warehouse's raw tables,
  each against the dbt time of the mart's ancestry;
- ``floor``: a full build vs the floor (``orchestration/bench/baselines/floor.py``): every mart
  and all 19 exception codes computed by hand in one in-memory DuckDB process from the same
  files, alternating run by run; issue 13 measures the build as a multiple of it;
- ``engines``: a full build on DuckDB and on Spark (``--engine spark``, PySpark local mode on
  the same two cores) of the same export, alternating, with each one's dbt throughput per core;
- ``incremental``: a build after one new day of deliveries vs the full build;
- ``redelivery``: a build after a re-delivery of newer versions of ~0.1% of existing keys
  (transfers accepted, event lines whose usage changed) vs the full build;
- ``dashboard``: each page's query functions (``page_queries``) on the built warehouse,
  uncached, p50/p95.

Each measurement is repeated ``--runs`` times: median and range. Heavy runs are sequential: one
measured process at a time.
"""

from __future__ import annotations

from orchestration import settings

CACHE = settings.PROJECT_ROOT / "data" / "bench"
SEED = 11
SCALES = ("tiny", "small", "medium", "large")
STAGES = (
    "fixed",
    "generate",
    "ingest",
    "build",
    "floor",
    "engines",
    "incremental",
    "redelivery",
    "dashboard",
)
# the marts the baselines compute: custody, access and classification (the keys of
# orchestration.bench.baselines.MARTS, which tests/test_bench_baselines.py keeps equal; not
# imported here, to keep pandas out of the measured build process); the dbt side of each
# comparison is the time of every model the mart depends on
CORE_MARTS = ("fct_custody_intervals", "fct_facility_stock_access", "fct_event_lines")

# Custodia: `make run` builds the warehouse from the bundled sample and serves the dashboard;
# `make test` runs lint and the whole test suite. Both set up .venv themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= data/sample
WAREHOUSE ?= data/warehouse/custodia.duckdb
PORT ?= 8501
# The bundled sample's month-end close: `make run` on data/sample closes this month, then
# ingests the late delivery that corrects one of its lines (docs/rules.md, "Month-end close").
SAMPLE_CLOSE_MONTH := 2024-07
SAMPLE_LATE := data/sample_late

export CUSTODIA_WAREHOUSE ?= $(abspath $(WAREHOUSE))
export CUSTODIA_LANDING ?= $(abspath $(DATA))
export DAGSTER_HOME ?= $(abspath .dagster_home)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DAGSTER_DISABLE_TELEMETRY := 1
export STREAMLIT_BROWSER_GATHER_USAGE_STATS := false

.PHONY: help run build sample-close dashboard test lint format bench ui clean browser java fuzz

help:
	@echo "make run    build the warehouse from $(DATA), then serve the dashboard on 127.0.0.1:$(PORT)"
	@echo "           (on data/sample: close $(SAMPLE_CLOSE_MONTH), then build its late delivery $(SAMPLE_LATE))"
	@echo "make test   lint (ruff, sqlfluff) then pytest (with the Spark engine's tests: Java, pyspark)"
	@echo "make fuzz   long randomized reliability runs (docs/reliability.md)"
	@echo "make lint | make bench | make ui (Dagster UI) | make clean"

# --- environment ------------------------------------------------------------------------
# Reinstalled when pyproject.toml changes (the stamp is older than it).
$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# the bench measures both engines: its extra and the Spark one (`dev` holds both too)
$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[bench,spark]'
	@touch $@

$(DAGSTER_HOME)/dagster.yaml:
	@mkdir -p $(DAGSTER_HOME)
	@printf 'telemetry:\n  enabled: false\n' > $@

# Debian's Chromium for the browser test (never `playwright install`: it downloads browsers).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing Debian chromium for the browser test"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; \
	fi

# Debian's Java runtime for the Spark engine (`custodia build --engine spark`, the Spark tests
# and bench); PySpark 3.5 runs on Java 17. Installed only when no `java` is on PATH.
java:
	@if ! command -v java >/dev/null 2>&1; then \
	  echo "installing Debian default-jre-headless for the Spark engine"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq default-jre-headless >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq default-jre-headless >/dev/null; fi; \
	fi

# --- the two commands -------------------------------------------------------------------
run: build sample-close dashboard

build: $(VENV)/.installed $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/custodia build --data $(CUSTODIA_LANDING) --warehouse $(CUSTODIA_WAREHOUSE)

# Only on the bundled sample: close SAMPLE_CLOSE_MONTH (a month closed by an earlier run is
# reported by custodia, exit 3, and skipped), then build the late delivery, so the finance page
# shows a real restatement. Other landing folders are left alone.
sample-close: build
ifeq ($(CUSTODIA_LANDING),$(abspath data/sample))
	@rc=0; $(BIN)/custodia close --month $(SAMPLE_CLOSE_MONTH) --warehouse $(CUSTODIA_WAREHOUSE) \
	  || rc=$$?; \
	if [ $$rc -eq 3 ]; then echo "make: $(SAMPLE_CLOSE_MONTH) was closed by an earlier run; skipped"; \
	elif [ $$rc -ne 0 ]; then exit $$rc; fi
	$(BIN)/custodia build --data $(SAMPLE_LATE) --warehouse $(CUSTODIA_WAREHOUSE)
endif

dashboard: $(VENV)/.installed
	$(BIN)/custodia dashboard --warehouse $(CUSTODIA_WAREHOUSE) --port $(PORT)

test: $(VENV)/.installed-dev $(DAGSTER_HOME)/dagster.yaml browser java lint
	$(BIN)/python -m pytest

# The reliability tests with many more examples (hypothesis profile `fuzz`, tests/conftest.py):
# 40 batches of 30 histories through real builds, ~13,000 hostile files. About 40 minutes.
fuzz: $(VENV)/.installed-dev $(DAGSTER_HOME)/dagster.yaml
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest --hypothesis-show-statistics \
	  tests/test_reliability_differential.py tests/test_reliability_hostile.py

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project --disable-progress-bar --nocolor

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# --- the rest ---------------------------------------------------------------------------
# The benchmark harness (orchestration/bench/, its own extra); options as arguments, e.g.
# make bench BENCH_ARGS="--scales small --runs 3 --stages build,dashboard"
bench: $(VENV)/.installed-bench $(DAGSTER_HOME)/dagster.yaml java
	$(BIN)/python -m orchestration.bench $(BENCH_ARGS)

ui: $(VENV)/.installed $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -m orchestration.definitions -h 127.0.0.1 -p 3000

clean:
	rm -rf $(VENV) .dagster_home data/warehouse data/bench dbt_project/target dbt_project/logs dashboards/static \
	  .pytest_cache .ruff_cache .hypothesis build *.egg-info

# segments: `make run` and `make test` are the whole quick start (Python 3.11+ only).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SEGMENTS_HOME ?= $(CURDIR)/.segments
DEMO_END_DATE ?= 2025-12-31
DEMO_AS_OF ?= 2026-01-01
DEMO_CUSTOMERS ?= 2000
LINES ?= 1000000 10000000
BENCH_API_PORT ?= 4210
# test files run on this many processes (pytest-xdist, each with its own Prefect test server):
# the suite mostly waits on the processes it starts, so 2 keep a 2-core machine busy
TEST_WORKERS ?= 2
export SEGMENTS_HOME
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120
export GX_ANALYTICS_ENABLED ?= false

.DEFAULT_GOAL := help
.PHONY: help install run test lint format bench bench-dask bench-stages bench-api bench-quality clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		(echo "segments needs Python 3.11 or newer (set PYTHON=...)"; exit 1)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install the package with dev tools

run: $(STAMP) ## Write demo data and run the nightly flow once (embedded DuckDB, no server)
	$(BIN)/segments demo --customers $(DEMO_CUSTOMERS) --end-date $(DEMO_END_DATE)
	$(BIN)/segments run --as-of $(DEMO_AS_OF)
	$(BIN)/segments status

test: $(STAMP) ## Run the whole test suite (TEST_WORKERS processes, one test file each at a time)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP) ## ruff check, format check and the layer contracts (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: $(STAMP) ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP) ## Nightly cost vs floor and pandas at LINES (1M and 10M; 100M: 4 GB cap), bench/results/
	$(BIN)/python -m bench.nightly --lines $(LINES) --nights 3 --api-port $(BENCH_API_PORT)

bench-dask: $(STAMP) ## bench + the last night rerun on 8 customer buckets with 1 and 2 Dask workers
	$(BIN)/python -m bench.nightly --lines $(LINES) --workers 1 2 --partitions 8

bench-stages: $(STAMP) ## Each stage in its own process at the first of LINES, bench/results/bench_*
	$(BIN)/python -m bench.run --lines $(firstword $(LINES))

bench-api: $(STAMP) ## Lookup-service p50/p99 under 2,000 requests from 8 clients, with publishes
	$(BIN)/python -m bench.api_bench --requests 2000 --clients 8

bench-quality: $(STAMP) ## Segment quality vs peers on Online Retail and demo data (bench/results/quality.md)
	$(BIN)/python -m bench.quality

clean: ## Remove the demo home (.segments) and caches, keep .venv
	rm -rf .segments .pytest_cache .ruff_cache

# leadsync — every target creates/reuses .venv and installs what it needs.
PY      ?= python3.11
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PYTEST  := $(BIN)/python -m pytest

.DEFAULT_GOAL := help
.PHONY: help venv demo console test lint format typecheck bench soak clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP) ## create the virtualenv and install leadsync with its dev tools

demo: $(STAMP) ## sync sample_data/ against the embedded sandbox and print the summary
	$(BIN)/leadsync demo

console: $(STAMP) ## the ops console in a browser, against the embedded sandbox (sample_data/ to upload)
	$(BIN)/leadsync serve --sandbox

test: $(STAMP) ## run the whole test suite (what CI runs)
	$(PYTEST) -m "not slow and not bench" -q

lint: $(STAMP) ## ruff check, ruff format --check, mypy, import contracts (layers, no cycles)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP) ## apply ruff format and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP) ## mypy on the package
	$(BIN)/mypy

bench: $(STAMP) ## run the benchmarks in bench/ (figures beside their baselines)
	$(BIN)/python bench/run_all.py

soak: $(STAMP) ## the full reliability suites (crash test, fault soak, hostile files)
	$(PYTEST) -m slow -q

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

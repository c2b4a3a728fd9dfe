# The README's two commands are `make demo` and `make test`; CI (.ci/run) calls `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint bench clean chromium

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "clvmodels needs Python >= 3.12 (pymc-marketing 1.3.0 does); found " + sys.version.split()[0] + ". Install 3.12 or run: make PYTHON=python3.12 ...")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	@echo "Installing clvmodels and its dependencies into $(VENV) (about a minute)..."
	$(BIN)/python -m pip install --quiet -e ".[dev,spark]" 2>&1 | { grep -v "^WARNING: Location" || true; }
	@$(BIN)/python -c "import clvmodels, pymc_marketing; print('installed clvmodels', clvmodels.__version__, 'with pymc-marketing', pymc_marketing.__version__)"
	$(BIN)/python -m clvmodels.warmup
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/clv demo --output-dir demo-output

test: $(STAMP) chromium
	$(BIN)/python -m pytest -m "" -q

# The report's browser test renders it in Debian's Chromium; installed here when missing and
# running as root (CI), otherwise that one test says how to install it and skips.
chromium:
	@if ! command -v chromium >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing chromium for the report's browser test..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not spark" -q

lint: $(STAMP)
	$(BIN)/ruff check clvmodels tests scripts
	$(BIN)/ruff format --check clvmodels tests scripts
	$(BIN)/mypy

# make bench JOBS=cli_rfm,cli_startup runs a subset; BENCH_ARGS passes other options
bench: $(STAMP)
	$(BIN)/python scripts/bench.py $(if $(JOBS),--jobs $(JOBS)) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) demo-output bench-output .pytest_cache .mypy_cache .ruff_cache

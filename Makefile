# Steward: `make run` sets up and serves the bundled sample knowledge base; `make test` checks the
# import contract (.importlinter), then tests.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run install ingest-sample serve test bench clean

run: ingest-sample serve

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	touch $@

ingest-sample: install
	$(BIN)/steward ingest examples/sample-kb --source handbook

serve: install
	$(BIN)/steward serve --port $(PORT)

test: install
	$(BIN)/lint-imports --no-logo
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python benchmarks/retrieval.py
	$(BIN)/python benchmarks/sync.py
	$(BIN)/python benchmarks/messy.py
	$(BIN)/python benchmarks/conflicts_sick.py
	$(BIN)/python benchmarks/evaluation.py

clean:
	rm -rf .steward

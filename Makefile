# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: run test lint typecheck unit e2e bench clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Herald needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/herald serve

lint: $(VENV)/.installed-test
	$(BIN)/ruff format --check herald tests benchmarks
	$(BIN)/ruff check herald tests benchmarks

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy herald

unit: $(VENV)/.installed-test
	$(BIN)/pytest tests/unit

e2e: $(VENV)/.installed-test
	$(BIN)/pytest tests/e2e

test: lint typecheck
	$(BIN)/pytest

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/publish.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage

# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
NPM ?= npm
VENV ?= .venv
BIN = $(VENV)/bin
# sns-validator, which tests/e2e/test_sns_validator.py runs with Node.js.
JS = tests/js

.PHONY: run test coverage lint typecheck unit e2e bench clean

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

$(JS)/node_modules/.installed: $(JS)/package.json $(JS)/package-lock.json
	cd $(JS) && $(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

run: $(VENV)/.installed
	$(BIN)/herald serve

lint: $(VENV)/.installed-test
	$(BIN)/ruff format --check herald tests benchmarks
	$(BIN)/ruff check herald tests benchmarks

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy herald

unit: $(VENV)/.installed-test
	$(BIN)/pytest tests/unit

e2e: $(VENV)/.installed-test $(JS)/node_modules/.installed
	$(BIN)/pytest tests/e2e

# Two test processes: most e2e time is spent waiting on servers, not on the two cores.
test: lint typecheck $(JS)/node_modules/.installed
	$(BIN)/pytest -n 2

# The same tests with line coverage, Herald's server subprocesses included (by hand: the
# tracer makes the run about 1.5 times as long, too close to CI's 10-minute budget).
coverage: $(VENV)/.installed-test $(JS)/node_modules/.installed
	$(BIN)/pytest -n 2 --cov=herald --cov-report=term:skip-covered

# The standard matrix of benchmarks/load.py against a freshly started Herald (by hand).
bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/load.py

clean:
	rm -rf $(VENV) $(JS)/node_modules .pytest_cache .mypy_cache .ruff_cache .coverage

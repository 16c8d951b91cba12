# The two commands a newcomer needs: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test lint bench clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(INSTALLED)

## run: install into .venv if needed, migrate, and start Hookline on ./data/hookline.db
run: $(INSTALLED)
	$(BIN)/hookline serve

## test: install what the tests need (Python packages, and PostgreSQL, nginx and Chromium
## from Debian), lint, and run the whole suite
test: $(INSTALLED)
	bash scripts/install-test-packages
	$(BIN)/ruff check src tests
	$(BIN)/pytest

## bench: the benchmark harness, every scenario at full size; the table goes to docs/benchmarks.json
bench: $(INSTALLED)
	$(BIN)/hookline bench --json docs/benchmarks.json

lint: $(INSTALLED)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

clean:
	rm -rf $(VENV) data .pytest_cache

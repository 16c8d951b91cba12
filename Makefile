# The two commands a newcomer needs: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
TESTING := $(VENV)/.installed-test
TS_KIT := receivers/typescript
LINTED := src tests receivers scripts
# e.g. make run SERVE_ARGS="--port 8080"
SERVE_ARGS ?=

.PHONY: run test test-python test-node lint bench clean

# The runtime only: what `hookline serve` needs.
$(RUNTIME): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME)

# The runtime plus the test extras (pytest, Playwright, ruff, …).
$(TESTING): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TESTING)

## run: install the runtime into .venv if needed, migrate, and start Hookline on ./data/hookline.db
run: $(RUNTIME)
	$(BIN)/hookline serve $(SERVE_ARGS)

## test: install what the tests need (Python packages, npm packages of the TypeScript kit,
## and PostgreSQL, nginx, Chromium and Node.js from Debian when missing), lint, and run
## the pytest suite and the TypeScript kit's node tests
test: $(TESTING)
	bash scripts/install-test-packages
	$(BIN)/ruff check $(LINTED)
	$(BIN)/pytest
	$(MAKE) test-node

test-python: $(TESTING)
	$(BIN)/pytest

## test-node: the TypeScript kit: npm ci, tsc, then node --test against a running Hookline
test-node: $(TESTING)
	cd $(TS_KIT) && npm ci --no-audit --no-fund && npx tsc -p . && node --test dist/test/

## bench: the benchmark harness, every scenario at full size; the table goes to docs/benchmarks.json
bench: $(RUNTIME)
	$(BIN)/hookline bench --json docs/benchmarks.json

lint: $(TESTING)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

clean:
	rm -rf $(VENV) data .pytest_cache $(TS_KIT)/node_modules $(TS_KIT)/dist

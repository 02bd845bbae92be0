# The two commands of the README: `make up` runs the service, `make test` runs every test.
# Both create the virtual environment and install everything on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Installed before the project so that its torch range is already met: on this kind of machine
# pip takes the local CPU wheel; elsewhere the registry's build for the machine.
TORCH_SPEC ?= torch==2.13.0

.PHONY: up test install lint services clean dashboard frontend-test

# The dashboard: npm packages from package-lock.json, then Vite's build, which the API serves.
FRONTEND := frontend
NPM_STAMP := $(FRONTEND)/node_modules/.package-lock.json
DIST := $(FRONTEND)/dist/index.html
FRONTEND_SOURCES := $(shell find $(FRONTEND)/src $(FRONTEND)/public -type f 2>/dev/null) \
	$(FRONTEND)/index.html $(FRONTEND)/vite.config.ts $(FRONTEND)/tsconfig.json \
	$(FRONTEND)/package.json

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e '.[server,worker,dev]'
	touch $(STAMP)

install: $(STAMP)

$(NPM_STAMP): $(FRONTEND)/package-lock.json
	cd $(FRONTEND) && npm ci --no-audit --no-fund --loglevel=error

$(DIST): $(NPM_STAMP) $(FRONTEND_SOURCES)
	cd $(FRONTEND) && npm run --silent build

dashboard: $(DIST)

## Embedded service on http://127.0.0.1:8000: SQLite + filesystem broker + one worker.
up: $(STAMP) dashboard
	$(BIN)/gapwatch up

## Every test, against real PostgreSQL and Redis (started if they are down).
test: $(STAMP) services dashboard frontend-test
	$(BIN)/python -m pytest --durations=15

## The SPA's own checks: generated API client current, types, Vitest.
frontend-test: $(STAMP) $(NPM_STAMP)
	cd $(FRONTEND) && GAPWATCH_PYTHON=$(abspath $(BIN)/python) npm run --silent check:api
	cd $(FRONTEND) && npx tsc -b && npx vitest run

services:
	scripts/ensure-services

lint: $(STAMP)
	$(BIN)/ruff check backend worker tests migrations bench
	$(BIN)/ruff format --check backend worker tests migrations bench
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .gapwatch test-artifacts .pytest_cache $(FRONTEND)/node_modules $(FRONTEND)/dist

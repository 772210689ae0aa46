# Brygga — developer commands. Everything runs from a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
# Tests run on PostgreSQL; point DATABASE_URL elsewhere to use another server.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/brygga

.PHONY: install demo lint test test-e2e test-browser bench soak run simulate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[test,redis,lint]"
	touch $(STAMP)

install: $(STAMP)

## make demo: migrate the embedded SQLite database, create an admin, start the
## simulators, two django-q2 clusters (ordinary and priority queue) and the web server,
## and seed a demo merchant.
demo: install
	Q_PRIORITY_CLUSTER=$${Q_PRIORITY_CLUSTER-brygga-priority} $(PY) manage.py demo

## make lint: ruff (lint and format), mypy (strict on core, bookkeeping and connectors) and the
## import contracts of the stack (import-linter, see pyproject.toml).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

## make test: the whole suite (unit and end-to-end) on PostgreSQL.
test: install
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) -m pytest -q

test-e2e: install
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) -m pytest -q tests/e2e

## make test-browser: only the admin in Chromium (Debian's chromium package; part of make test too).
test-browser: install
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) -m pytest -q tests/browser

## make bench: throughput and API-budget figures against the simulators (not in CI).
bench: install
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) -m bench.run

## make soak: the soak test at length (SOAK_ORDERS orders, default 2000, through every fault, the
## cluster SIGKILLed every minute; about 35 minutes); report in var/soak-report.json.
soak: install
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} SOAK_ORDERS=$${SOAK_ORDERS:-2000} \
	SOAK_INTERVAL=$${SOAK_INTERVAL:-0.5} SOAK_KILL_EVERY=$${SOAK_KILL_EVERY:-60} \
	SOAK_DRAIN_TIMEOUT=$${SOAK_DRAIN_TIMEOUT:-3600} $(PY) -m pytest -q -s tests/e2e/test_soak.py

simulate: install
	$(PY) manage.py simulate

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* var staticfiles

# The two commands: `make run` (the whole stack in the foreground) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: run test unit integration e2e browser screenshots bench lint install browser-deps infra migrate secrets admin clean help

help:
	@echo "make run    - install, generate local secrets once (var/secrets.env), create databases, migrate,"
	@echo "              create the first admin, start everything on :8000"
	@echo "make test   - unit, integration, end-to-end and browser tests (starts PostgreSQL/RabbitMQ/Redis if needed,"
	@echo "              installs Debian's chromium for the browser tests)"
	@echo "make screenshots - a PNG of every page of the portal and the console into docs/screenshots/"
	@echo "make bench  - benchmarks; prints the table kept in README"
	@echo "make lint   - ruff"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

browser-deps:
	@scripts/ensure-browser.sh

infra:
	@scripts/ensure-infra.sh

migrate: install infra
	$(BIN)/python -m shared.manage migrate

# Random development secrets, made on the first run and kept in var/ (git-ignored); no secret has a value
# written in the repository. Every process below gets them from the file (honcho -e). Identity's signing and
# Fernet keys are files under var/keys/, made by identity itself outside production.
secrets: install
	@$(BIN)/python -m shared.secrets var/secrets.env

admin: migrate secrets
	$(BIN)/honcho run -e var/secrets.env $(BIN)/python -m services.identity.cli create-admin --print-password

run: admin
	@mkdir -p var/mail var/prometheus
	@echo "Gateway on http://127.0.0.1:8000 (mail lands in var/mail/). Ctrl-C stops everything."
	@echo "The first admin's password, and every other local secret: var/secrets.env"
	@# Once the stack answers: a demo client with an unpaid invoice on a new database, and both sign-ins printed.
	@($(BIN)/honcho run -e var/secrets.env $(BIN)/python -m shared.demo &)
	$(BIN)/honcho start -e var/secrets.env -f Procfile

test: install infra browser-deps
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

unit: install
	$(BIN)/python -m pytest -q tests/unit

integration: install infra
	$(BIN)/python -m pytest -q tests/integration

e2e: install infra
	$(BIN)/python -m pytest -q tests/e2e

browser: install infra browser-deps
	$(BIN)/python -m pytest -q tests/e2e/browser

screenshots: install infra browser-deps
	$(BIN)/python -m pytest -q tests/e2e/browser/test_every_page.py --screenshots docs/screenshots

bench: install infra
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) || echo "wrk missing: HTTP rows will be skipped"
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.stack_memory

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf var .pytest_cache

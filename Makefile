# Clausebook: `make demo` sets up and starts everything; `make test` runs the whole suite.
# Paths stay relative so a clone in a folder with spaces works.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium

# Python 3.12+: $(PYTHON) if given, else python3.13, python3.12, then python3 if new enough.
PYTHON ?= $(shell for p in python3.13 python3.12 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then \
	echo $$p; break; fi; done)

.PHONY: help install demo dev test test-fast bench lint format check-deploy browser clean

help:
	@echo "make demo    set up (venv, pinned dependencies, database) and start Clausebook with demo data"
	@echo "make dev     the same with Django's development server, which reloads on code changes"
	@echo "make test    run the whole test suite (PostgreSQL, a Celery worker and Chromium included)"
	@echo "make bench   run the benchmarks and print a table of medians"
	@echo "make lint    ruff check + ruff format --check + lint-imports + makemigrations --check"

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "Clausebook needs Python 3.12 or newer: install it, or run 'make PYTHON=/path/to/python3.12 ...'" >&2; exit 1; fi
	@echo "Creating $(VENV) with $$($(PYTHON) --version)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip>=25.1"
	@# The project runs from its checkout, so only its pinned dependencies are installed.
	@$(PY) -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > $(VENV)/requirements.txt
	@$(PY) -m pip install --quiet --disable-pip-version-check -r $(VENV)/requirements.txt --group dev
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	@DEBUG=$${DEBUG:-true} $(PY) manage.py demo

# For working on the code: Django's development server reloads on every change (and is slower:
# it stalls ~40 ms on each kept-alive request), with the same worker and data as `make demo`.
dev: $(STAMP)
	@DEBUG=$${DEBUG:-true} $(PY) manage.py demo --server dev

# Browser tests drive Debian's Chromium; install it when we can (root with apt-get), else say how.
browser:
	@if [ ! -x "$(CHROMIUM)" ]; then \
		if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
			echo "Installing Debian's chromium for the browser tests"; \
			(apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y --no-install-recommends chromium >/dev/null)); \
		else echo "Browser tests need Chromium at $(CHROMIUM) (Debian: apt-get install chromium; or set CHROMIUM=...)" >&2; exit 1; fi; \
	fi

test: $(STAMP) browser
	@CHROMIUM_PATH=$(CHROMIUM) $(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	@$(PY) -m pytest -m "not browser and not worker and not demo" $(PYTEST_ARGS)

bench: $(STAMP)
	@DEBUG=$${DEBUG:-true} $(PY) -m bench $(BENCH_ARGS)

lint: $(STAMP)
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@# The apps depend one way (contract in pyproject.toml, [tool.importlinter]).
	@$(VENV)/bin/lint-imports --no-cache
	@DEBUG=true $(PY) manage.py makemigrations --check --dry-run

format: $(STAMP)
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .

check-deploy: $(STAMP)
	@$(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) var staticfiles

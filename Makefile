# MaskPortal: `make run` serves the platform on 127.0.0.1:8000; `make test` runs the tests.
# Both set up everything first (a .venv in the repo root, pinned dependencies, migrations).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DJANGO_SETTINGS_MODULE ?= maskportal.settings.development

.PHONY: run test lint bench bench-report setup migrate admin browser nginx clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip wheel

$(STAMP): $(BIN)/python requirements.txt requirements-nodeps.txt
	$(BIN)/pip install --no-compile -r requirements.txt
	$(BIN)/pip install --no-compile --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

setup: $(STAMP)

migrate: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v 0

admin: migrate
	$(BIN)/python manage.py ensure_admin

run: admin
	@echo "MaskPortal on http://$${MASKPORTAL_HOST:-127.0.0.1}:$${MASKPORTAL_PORT:-8000}/  (web + worker + training worker + beat; Ctrl-C stops all)"
	@# One BLAS thread per process: the gallery match is faster alone than fighting other processes for cores.
	OPENBLAS_NUM_THREADS=$${OPENBLAS_NUM_THREADS:-1} $(BIN)/honcho start

# Debian's Chromium and its driver for the browser tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: browser tests will be skipped (sudo apt-get install chromium)"; fi; }

# Debian's nginx for the deployment test (production settings behind nginx; skipped where it is missing).
nginx:
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	  else echo "nginx missing: the deployment test will be skipped (sudo apt-get install nginx)"; fi; }

test: setup browser nginx
	DJANGO_SETTINGS_MODULE=maskportal.settings.test $(BIN)/pytest $(PYTEST_ARGS)

# ruff (lint and format), the import contracts in pyproject.toml, and mypy on the engine and services.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy detection/engine detection/services training/services accounts/services.py

bench: setup
	@for script in benchmarks/[!_]*.py; do [ "$$script" = benchmarks/report.py ] && continue; \
	  echo "== $$script"; $(BIN)/python $$script || exit 1; done
	$(MAKE) bench-report

# docs/benchmarks.md from benchmarks/reports/*.json (figures are never typed by hand).
bench-report: setup
	$(BIN)/python benchmarks/report.py

clean:
	rm -rf var/test var/staticfiles

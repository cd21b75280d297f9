# Newcomer commands: `make run` (portal with demo data on http://127.0.0.1:8000) and `make test`.
# Everything runs from the virtual environment in .venv, created on first use.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
# Re-install only when pyproject.toml changed since the last install.
STAMP := $(VENV)/.installed-stamp
ADDRPORT ?= 127.0.0.1:8000
PYTEST_ARGS ?=

.PHONY: help install run test lint messages check-deploy

help:
	@echo "make run           install, migrate, load demo data if empty, serve http://$(ADDRPORT)/ with a Celery worker"
	@echo "make test          install, run the whole test suite (SQLite/embedded broker, or DATABASE_URL/REDIS_URL)"
	@echo "make lint          ruff check + the layers contract (lint-imports) + makemigrations --check"
	@echo "make messages      makemessages -l zh_Hans + compilemessages"
	@echo "make check-deploy  manage.py check --deploy under DJANGO_ENV=production"
	@echo "make install       create .venv and pip install -e '.[dev]'"

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

run: install
	$(MANAGE) migrate --noinput
	@has_regions=$$($(MANAGE) shell --no-imports -v 0 -c 'from alliances.models import Region; print(int(Region.objects.exists()))'); \
	if [ "$$has_regions" = "0" ]; then \
		echo "Empty database: loading the demo data (manage.py load_demo)"; \
		$(MANAGE) load_demo --quiet; \
	fi
	$(MANAGE) runportal --addrport $(ADDRPORT)

test: install
	@mkdir -p test-artifacts
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(MANAGE) makemigrations --check --dry-run

messages: install
	$(MANAGE) makemessages -l zh_Hans --no-obsolete --ignore=.venv --ignore=var --ignore=staticfiles --ignore=test-artifacts --ignore=tests
	$(MANAGE) compilemessages --ignore=.venv --ignore=var --ignore=staticfiles --ignore=test-artifacts

check-deploy: install
	DJANGO_ENV=production \
	DJANGO_SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
	DJANGO_ALLOWED_HOSTS=portal.example.org \
	DJANGO_DEBUG=0 \
	$(MANAGE) check --deploy --fail-level WARNING

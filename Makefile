# Two commands for a newcomer: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-days install install-test migrate seed serve worker lint format makemigrations bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

migrate: install
	$(BIN)/python -m ecosystem migrate

seed: migrate
	$(BIN)/python -m ecosystem seed --demo

## Migrate an SQLite database under var/, load the demo data, serve with inline jobs.
run: seed
	$(BIN)/python -m ecosystem serve --host $(HOST) --port $(PORT)

worker: install
	$(BIN)/python -m ecosystem worker

## The whole suite: SQLite always; PostgreSQL, Redis/arq and the browser when configured.
test: install-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## The dated tests again with the clock moved to each day of a week, a 31 December and the
## eve of Tết (time-machine, SQLite, ~25 minutes): the suite must not depend on the day.
test-days: install-test
	PYTHON=$(BIN)/python .ci/test-days

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## New migration files after a model change: make makemigrations (review the order of operations).
makemigrations: install
	DATABASE_URL=sqlite:///tmp/makemigrations.sqlite3 $(BIN)/python -m tortoise -c ecosystem.db.TORTOISE_ORM makemigrations

bench: install-test
	$(BIN)/python bench/app_vs_bare.py

# Two commands on a fresh clone: `make run` and `make test` (README, Quick start).
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install run test lint format openapi bench drills clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/dpa migrate
	$(BIN)/dpa serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check app tests migrations bench
	$(BIN)/ruff format --check app tests migrations bench
	$(BIN)/hadolint Dockerfile

format: install
	$(BIN)/ruff check --fix app tests migrations bench
	$(BIN)/ruff format app tests migrations bench

bench: install
	$(BIN)/python -m bench.all

drills: install
	$(BIN)/python -m bench.drills

openapi: install
	$(BIN)/dpa openapi export

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

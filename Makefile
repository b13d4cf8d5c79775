# Two commands on a fresh clone: `make run` and `make test` (README, Quick start).
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install chromium run test test-fast audit lint format openapi bench drills stress clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/dpa migrate
	$(BIN)/dpa serve --host $(HOST) --port $(PORT)

# Tests run in TEST_WORKERS processes (pytest-xdist), each with its own PostgreSQL cluster and
# ports: on a 2-core machine the whole suite in ~4.5 min instead of ~8.5 (much of it waits on
# subprocesses). `make test TEST_WORKERS=0` runs it in one process.
TEST_WORKERS ?= 2

test: install chromium
	$(BIN)/pytest -n $(TEST_WORKERS)

# The inner loop: SQLite only, no subprocess or browser tests (CI runs `make test`, everything).
test-fast: install
	$(BIN)/pytest -n $(TEST_WORKERS) -q -m "not slow" -k "not postgres" -p no:cacheprovider

# The browser tests drive Debian's Chromium (Playwright, no browser download). Installed here when
# missing and we may (root, or sudo without a password); where not, those tests skip and say why.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	  else sudo=no; fi; \
	  if [ "$$sudo" != no ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Chromium for the browser tests (apt-get install chromium)"; \
	    $$sudo apt-get update -qq >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium >/dev/null; \
	  fi; \
	  command -v chromium >/dev/null 2>&1 || \
	    echo "Chromium could not be installed: the browser tests will be skipped"; \
	}

# Known vulnerabilities in the installed dependencies (pip-audit against PyPI's advisory data;
# it says which packages it could not check where the index does not serve that data).
audit: install
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[audit]'
	$(BIN)/pip-audit --vulnerability-service pypi --skip-editable --progress-spinner off

lint: install
	$(BIN)/ruff check app tests migrations bench
	$(BIN)/ruff format --check app tests migrations bench
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile

format: install
	$(BIN)/ruff check --fix app tests migrations bench
	$(BIN)/ruff format app tests migrations bench

bench: install
	$(BIN)/python -m bench.all

drills: install
	$(BIN)/python -m bench.drills

# The timer and wake-up tests 200 times each under CPU load; prints the failure count.
stress: install
	$(BIN)/python -m bench.stress --count 200

openapi: install
	$(BIN)/dpa openapi export

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Two commands on a fresh machine: `make demo` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo console test lint bench clean setup browser postgres

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# The display page's test drives a real headless Chromium: Debian's package.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser test"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# The PostgreSQL tests start a throwaway server of their own from Debian's package (tests/pgkit.py).
postgres:
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { \
	  echo "installing Debian's postgresql for the PostgreSQL tests"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; }

demo: $(STAMP)
	$(BIN)/opscentre demo

# The demo in the background (its log in opscentre-demo.log) and the operators' console in front.
console: $(STAMP)
	$(BIN)/opscentre demo --console

# The tests start with the static checks, so CI (which runs `make test`) runs them too.
test: lint browser postgres
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: $(STAMP) postgres
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/ingest.py --engine postgresql
	$(BIN)/python bench/pg.py failover
	$(BIN)/python bench/rules.py
	$(BIN)/python bench/sweep.py
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/fanout.py --engine postgresql --feeds 2 --clients 2000
	$(BIN)/python bench/console.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

# Two commands on a fresh machine: `make demo` and `make test`. Each sets up what it needs, exactly
# as locked: uv (its own version pinned with hashes in requirements-uv.txt) installs uv.lock into .venv.
PYTHON ?= python3
VENV   ?= .venv
TOOLS  ?= .tools
BIN    := $(VENV)/bin
UV     := $(TOOLS)/bin/uv
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# pytest's workers on these 2-core machines: the tests wait on servers and timers as much as they
# compute, so four keep both cores busy (pyproject's addopts says the same).
PYTEST_WORKERS ?= 4
# The fast tier (make check): all but the browser, PostgreSQL, multi-process and screen-snapshot tests.
FAST   := not browser and not pg and not slow and not snapshot

# uv finds this Python and never downloads one; the environment is the project's .venv.
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export UV_NO_PROGRESS := 1

.PHONY: demo console test check lint lock upgrade bench clean setup browser postgres

$(UV): requirements-uv.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --require-hashes --no-deps -r requirements-uv.txt
	touch $(UV)

# Exactly the lock, every extra (the sdmx reader and the test tools): --frozen installs what uv.lock
# says and fails rather than change it; a package not in the lock is removed from .venv.
$(STAMP): pyproject.toml uv.lock $(UV)
	$(UV) sync --frozen --all-extras --quiet
	touch $(STAMP)

setup: $(STAMP)

# The lock brought in line with pyproject.toml, changing no pin it need not change.
lock: $(UV)
	$(UV) lock

# Every dependency to its newest release the ranges allow (or one: make upgrade P=name); then run
# make test and commit pyproject.toml with uv.lock.
upgrade: $(UV)
	$(UV) lock $(if $(P),--upgrade-package $(P),--upgrade)

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

# Everything, as CI runs it: the static checks first, then every tier of tests.
test: lint browser postgres
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS)

# The inner loop: the static checks and the fast tier (under 2 minutes on 2 cores).
check: lint
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m "$(FAST)"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: $(STAMP) postgres
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.ingest --engine postgresql
	$(BIN)/python -m bench.pg failover
	$(BIN)/python -m bench.rules
	$(BIN)/python -m bench.sweep
	$(BIN)/python -m bench.fanout
	$(BIN)/python -m bench.fanout --engine postgresql --feeds 2 --clients 2000
	$(BIN)/python -m bench.console

clean:
	rm -rf $(VENV) $(TOOLS) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

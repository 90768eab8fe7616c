# Two commands on a fresh machine: `make demo` and `make test`. Each sets up what it needs, exactly
# as locked: uv (its own version pinned with hashes in requirements-uv.txt) installs uv.lock into .venv;
# npm installs package-lock.json (the wall page's ESLint) into node_modules.
PYTHON ?= python3
VENV   ?= .venv
TOOLS  ?= .tools
BIN    := $(VENV)/bin
UV     := $(TOOLS)/bin/uv
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
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

.PHONY: demo console test check lint lock upgrade bench clean setup browser postgres briefing-tools node jstest layers

$(UV): requirements-uv.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --require-hashes --no-deps -r requirements-uv.txt
	touch $(UV)

# Exactly the lock, every extra (the sdmx reader and the test tools): --frozen installs what uv.lock
# says and fails rather than change it; a package not in the lock is removed from .venv.
$(STAMP): pyproject.toml uv.lock $(UV)
	$(UV) sync --frozen --all-extras --quiet
	touch $(STAMP)

# Node.js and npm for the wall page's checks (ESLint, node --test): the machine's, else Debian's
# nodejs and npm (18 on Debian 12: what package.json's engines allow at the lowest).
node:
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { \
	  echo "installing Debian's nodejs and npm for the wall page's checks"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm >/dev/null; }

# Exactly package-lock.json (with its hashes): npm ci installs the lock and fails rather than change it.
$(NODE_STAMP): package.json package-lock.json | node
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

setup: $(STAMP) $(NODE_STAMP)

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

# The briefing's fonts (DejaVu: every Vietnamese letter) and its test's pdftoppm/pdftotext: Debian's packages.
briefing-tools:
	@{ fc-list 2>/dev/null | grep -q DejaVuSans && command -v pdftoppm >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1; } || { \
	  echo "installing Debian's fonts-dejavu-core and poppler-utils for the briefing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq fonts-dejavu-core poppler-utils >/dev/null; }

demo: $(STAMP)
	$(BIN)/opscentre demo

# The demo in the background (its log in opscentre-demo.log) and the operators' console in front.
console: $(STAMP)
	$(BIN)/opscentre demo --console

# Everything, as CI runs it: the static checks first, then every tier of tests.
test: lint jstest browser postgres briefing-tools
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS)

# The inner loop: the static checks and the fast tier (under 2 minutes on 2 cores).
check: lint jstest
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m "$(FAST)"

lint: $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	node_modules/.bin/eslint

# The wall page's pure modules (formatting, periods, words) under node's own test runner.
jstest: node
	node --test tests/js/

# The packages' floors drawn from the import graph (tests/test_layering.py checks it is current).
layers: $(STAMP)
	$(BIN)/python docs/layers.py > docs/layers.txt

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
	rm -rf $(VENV) $(TOOLS) node_modules build *.egg-info .pytest_cache .mypy_cache .ruff_cache

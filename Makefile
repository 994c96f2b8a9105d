# The README's two commands: `make run` and `make test`. Both set up what is missing first.
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: run test lint unit sysdeps bench clean page page-test

$(STAMP): pyproject.toml
	@python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "qrlink needs Python 3.11 or newer; python3 here is $$(python3 --version 2>&1)." >&2; exit 1; }
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

sysdeps:
	bash scripts/install-system-deps.sh

# The window serves the customer's page itself, so it is built first (once).
run: $(STAMP) page
	$(VENV)/bin/qrlink

lint: $(STAMP)
	$(VENV)/bin/ruff check qrlink_desktop tests benchmarks packaging scripts
	$(VENV)/bin/ruff format --check qrlink_desktop tests benchmarks packaging scripts
	$(VENV)/bin/mypy

test: $(STAMP) sysdeps lint page-test page
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

# The mobile page: the pinned npm packages (installed again only when the lock changes),
# and dist/, built again only when a source is newer. Its checks and unit tests (npm test:
# types, the browser-compatibility lint, node's test runner) are `page-test`, which
# `make test` runs every time, whether or not the build was current.
PAGE_DIR  := resources/mobile
PAGE_SRC  := $(wildcard $(PAGE_DIR)/src/*) $(PAGE_DIR)/package.json \
             $(PAGE_DIR)/package-lock.json $(PAGE_DIR)/build.mjs $(PAGE_DIR)/tsconfig.json \
             $(PAGE_DIR)/browsers.mjs $(PAGE_DIR)/eslint.config.mjs \
             $(wildcard resources/protocol/*.json)
NODE_MODULES := $(PAGE_DIR)/node_modules/.package-lock.json

$(NODE_MODULES): $(PAGE_DIR)/package.json $(PAGE_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "The customer's page is built with Node.js and npm:" \
	  "install them (Debian/Ubuntu: sudo apt-get install nodejs npm), then run make again." >&2; exit 1; }
	cd $(PAGE_DIR) && npm ci --no-audit --no-fund
	touch $@

page: $(PAGE_DIR)/dist/index.html

$(PAGE_DIR)/dist/index.html: $(PAGE_SRC) $(NODE_MODULES)
	cd $(PAGE_DIR) && npm run build

page-test: $(NODE_MODULES)
	cd $(PAGE_DIR) && npm test

bench: $(STAMP)
	$(PY) benchmarks/pairing_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# The one-folder PyInstaller bundle dist/qrlink/ (docs/packaging.md). PyInstaller comes
# with the dev extras; the line below only covers a virtual environment made before that.
.PHONY: bundle bundle-test
bundle: $(STAMP) page
	PYTHON=$(PY) bash packaging/build.sh

# Builds the bundle when stale, then runs its self-test with the system libzbar hidden.
bundle-test: bundle
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest tests/packaging $(PYTEST_ARGS)

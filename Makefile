# The README's two commands: `make run` and `make test`. Both set up what is missing first.
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: run test lint unit sysdeps bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

sysdeps:
	bash scripts/install-system-deps.sh

run: $(STAMP)
	$(VENV)/bin/qrlink

lint: $(STAMP)
	$(VENV)/bin/ruff check qrlink_desktop tests benchmarks
	$(VENV)/bin/ruff format --check qrlink_desktop tests benchmarks
	$(VENV)/bin/mypy

test: $(STAMP) sysdeps lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) benchmarks/pairing_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

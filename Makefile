# The two commands: `make atlas` (set up, build the bundled snapshot, serve the atlas)
# and `make test` (set up, lint, run every test). Both need only Python 3.11.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: atlas test build lint clean snapshot readme-numbers help

help:
	@echo "make atlas   build the bundled real snapshot and serve the atlas on http://$(HOST):$(PORT)"
	@echo "make test    lint and run all tests"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Runtime install (what `make atlas` needs): no node, no browser.
$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

# Test install: runtime + pytest, hypothesis, playwright (driver only; the browser is
# Debian's chromium, installed by .ci/run).
$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.runtime

build: $(VENV)/.runtime
	$(BIN)/llmcarto build

atlas: build
	$(BIN)/llmcarto atlas --host $(HOST) --port $(PORT)

lint: $(VENV)/.test
	$(BIN)/ruff check src tests scripts benchmarks

test: lint
	$(BIN)/python -m pytest

# Rebuild the committed snapshot from ../shared/data (maintainers only).
snapshot: $(VENV)/.runtime
	$(BIN)/python scripts/build_snapshot.py

# Regenerate the README's numbers block from a store built from the snapshot.
readme-numbers: $(VENV)/.runtime
	$(BIN)/python scripts/readme_numbers.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

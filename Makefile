# The two quickstart commands, `make demo` and `make test`, each do their own set-up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test lint fmt bench docs clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,ray]'
	@if command -v apt-get >/dev/null; then command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium); fi
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/monoloop demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

docs: $(STAMP)
	$(BIN)/python -m monoloop.cli.reference > docs/cli.md

fmt: $(STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

bench: $(STAMP)
	$(BIN)/python bench/objects.py
	$(BIN)/python bench/validate.py
	$(BIN)/python bench/data.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/tracking.py
	$(BIN)/python bench/drift.py
	$(BIN)/python bench/serve.py
	$(BIN)/python bench/ui.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache

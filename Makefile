# The two commands of the README:
#   make run   set up and run the main job on the embedded store (ingest the samples, summary, report)
#   make test  set up and run the whole test suite (starts and stops its own Oxigraph server)
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint bench docs clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

run: setup
	bash scripts/system-deps.sh font
	$(BIN)/kg run

test: setup
	bash scripts/system-deps.sh font chromium
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .

docs: setup
	$(BIN)/python tools/build_vocab.py
	$(BIN)/python tools/gen_docs.py

bench: setup
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) kg-store out .pytest_cache

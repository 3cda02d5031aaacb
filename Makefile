# upurse: `make demo` runs the story on the emulated rig, `make test` runs every test.
# Both start from nothing: they create .venv and install what is missing, and are idempotent.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MICROPYTHON ?= $(abspath $(BIN)/micropython)
export MICROPYTHON
JOBS ?= 2

.PHONY: all demo test bench fuzz lint firmware flash-card flash-terminal hil clean

all: test

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

demo: $(STAMP)
	$(BIN)/upurse demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(JOBS) tests

lint: $(STAMP)
	$(BIN)/ruff check host tests firmware

bench: $(STAMP)
	$(BIN)/python -m upurse.bench

clean:
	rm -rf build .pytest_cache

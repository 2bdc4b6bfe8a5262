# minide: the two commands a newcomer runs are `make demo` and `make test`.
# Everything is installed into ./.venv; the Rust extension is built in release mode.

PYTHON ?= python3
VENV   := $(CURDIR)/.venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.deps-installed
export VIRTUAL_ENV := $(VENV)
export PYO3_PYTHON := $(BIN)/python
export PATH := $(BIN):$(PATH)

.DEFAULT_GOAL := help
.PHONY: help demo test test-long bench build lint rust-test py-test fmt clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Python dependencies (runtime + dev extras) are installed once per change of pyproject.toml.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip 'maturin>=1.10,<2'
	cd $(CURDIR) && $(BIN)/maturin develop --release --extras dev
	touch $@

build: $(STAMP)  ## build the Rust extension (release) into the venv
	$(BIN)/maturin develop --release --skip-install

demo: build  ## the guided tour of every engine on generated data
	$(BIN)/minide demo

test: build lint rust-test py-test  ## everything CI checks: fmt, clippy, cargo test, ruff, stubtest, pytest

lint:  ## cargo fmt --check, clippy -D warnings, ruff, mypy.stubtest
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(BIN)/ruff check python tests benches
	$(BIN)/python -m mypy.stubtest minide._core --mypy-config-file pyproject.toml

rust-test:  ## cargo test on the pure-Rust engine crates
	cargo test --quiet

py-test: build  ## pytest (Hypothesis uses the derandomized `ci` profile when CI=true)
	$(BIN)/pytest -q

test-long: build  ## the long soaks (minutes each; not part of CI): run before resolving an issue
	$(BIN)/pytest -q -m long

bench: build  ## run benches/ against their baselines; JSON goes to benches/results/
	$(BIN)/minide bench $(BENCH)

fmt:  ## format Rust and Python
	cargo fmt --all
	$(BIN)/ruff format python tests benches
	$(BIN)/ruff check --fix python tests benches

clean:  ## remove the venv and build outputs
	rm -rf $(VENV) target python/minide/_core*.so

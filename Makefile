PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/jobq: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.dev: pyproject.toml $(BIN)/jobq
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

demo: $(BIN)/jobq
	$(BIN)/jobq demo

lint: $(VENV)/.dev
	$(BIN)/ruff check jobq tests bench
	$(BIN)/mypy jobq

test: lint
	$(BIN)/pytest -q

# The side-by-side comparison with the peers (bench/PEERS.md); BENCH_ARGS=--quick for a short run.
bench:
	$(PYTHON) -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

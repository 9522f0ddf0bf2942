PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean screenshot

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

# The browser test drives Debian's Chromium (Playwright's own browser download cannot
# work here). Installed once, non-interactively; a no-op when it is there.
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	@if command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends chromium fonts-dejavu-core >/dev/null; \
	else echo "no apt-get: install Chromium at $(CHROMIUM) for the browser test"; fi

test: lint $(CHROMIUM)
	$(BIN)/pytest -q

# Retake docs/dashboard.png (the README's screenshot) with the browser test's own code.
screenshot: $(VENV)/.dev $(CHROMIUM)
	$(BIN)/pytest -q tests/web/test_browser.py --dashboard-png docs/dashboard.png

# The side-by-side comparison with the peers (bench/PEERS.md); BENCH_ARGS=--quick for a short run.
bench:
	$(PYTHON) -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

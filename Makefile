# Two commands set up and run everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BENCH_VENV ?= .venv-bench
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench bench-backtest bench-venv locale deps ui clean

deps: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

locale:
	@sh tools/ensure_locale.sh

ui:
	@sh tools/ensure_ui.sh

run: deps locale ui
	$(PY) run.py

lint: deps
	$(VENV)/bin/ruff check .

test: deps locale ui lint
	@sh tools/ensure_test_tools.sh
	$(PY) -m pytest

bench: deps locale
	$(PY) bench/sim.py

# The lab beside vnpy and backtrader (issue 18). The anchors live in a bench-only environment, never in $(VENV).
bench-venv: $(BENCH_VENV)/.installed

$(BENCH_VENV)/.installed: bench/requirements-peers.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet -r bench/requirements-peers.txt
	touch $@

bench-backtest: deps bench-venv
	$(PY) bench/backtest.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) .pytest_cache .ruff_cache ui/node_modules

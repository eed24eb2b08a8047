# Two commands set up and run everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench locale deps ui clean

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

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache ui/node_modules

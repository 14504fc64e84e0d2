# The two commands of the README: `make run` (the main job on the bundled sample) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test dev sample

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

run: $(VENV)/.installed          ## build warehouse/shangluo.duckdb from the bundled sample
	$(BIN)/shangluo run

test: $(VENV)/.installed         ## the test suite
	$(BIN)/python -m pytest -n 2

dev: $(VENV)/.installed          ## the Dagster UI on http://127.0.0.1:3000
	$(BIN)/shangluo dev

sample: $(VENV)/.installed       ## regenerate the bundled synthetic sample (deterministic)
	$(BIN)/python -m sample.generate

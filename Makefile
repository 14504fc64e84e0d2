# The two commands of the README: `make run` (the main job on the bundled sample) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test dev sample FORCE

# .env at the root: Dagster reads it for every command started here.  It names the project's own
# instance (this folder, whose dagster.yaml keeps its state in .dagster/) as DAGSTER_HOME's default,
# so that `dagster-daemon run` works with nothing set; a DAGSTER_HOME that is set still wins.  The
# path is absolute (Dagster's rule), hence written here and not tracked; other lines are kept.
DOTENV_LINE := DAGSTER_HOME="$${DAGSTER_HOME:-$(CURDIR)}"
.env: FORCE
	@grep -qxF '$(DOTENV_LINE)' $@ 2>/dev/null || { { grep -v '^DAGSTER_HOME=' $@ 2>/dev/null; \
	  echo '$(DOTENV_LINE)'; } > $@.tmp && mv $@.tmp $@; }

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed: | .env

run: $(VENV)/.installed          ## build warehouse/shangluo.duckdb from the bundled sample
	$(BIN)/shangluo run

test: $(VENV)/.installed         ## the test suite
	$(BIN)/python -m pytest -n 2

dev: $(VENV)/.installed          ## the Dagster UI on http://127.0.0.1:3000
	$(BIN)/shangluo dev

sample: $(VENV)/.installed       ## regenerate the bundled synthetic sample (deterministic)
	$(BIN)/python -m sample.generate

# The two commands of the README. Everything runs from a project-local virtualenv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DBT_PROFILES_DIR := $(CURDIR)

BQ_VENV := .venv-bq
BQ_REQUIREMENTS := tests/bigquery_emulator/requirements.txt

.PHONY: demo test lint pytest clean

$(BIN)/idstitch: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,snowflake,bigquery]'
	touch $@

## demo: load the demo raw events, build every table on DuckDB, print a summary
demo: $(BIN)/idstitch
	$(BIN)/idstitch demo

## test: the whole suite (lint, then the tests)
test: lint pytest

## lint: Python, then both renderings of every model: the full build (a new, empty database) and
## the incremental run (a database the demo was built in). sqlfluff's dbt templater renders the
## models against the target database, so each gets a scratch database of its own, never the
## user's idstitch.duckdb. The built one also feeds `dbt docs generate`, so the catalog has columns.
SCRATCH := target/scratch
lint: $(BIN)/idstitch
	$(BIN)/ruff check scripts tests/python
	$(BIN)/mypy scripts/idstitch
	rm -rf $(SCRATCH) && mkdir -p $(SCRATCH)
	IDSTITCH_DUCKDB_PATH=$(SCRATCH)/empty.duckdb $(BIN)/sqlfluff lint models analyses
	IDSTITCH_DUCKDB_PATH=$(SCRATCH)/built.duckdb $(BIN)/dbt seed --quiet
	IDSTITCH_DUCKDB_PATH=$(SCRATCH)/built.duckdb $(BIN)/dbt build --quiet --exclude resource_type:seed
	IDSTITCH_DUCKDB_PATH=$(SCRATCH)/built.duckdb $(BIN)/sqlfluff lint models analyses
	@# the erasure branches render only with requests: lint once more with one of each scope
	$(BIN)/python -c "import duckdb; duckdb.connect('$(SCRATCH)/built.duckdb').execute(\"insert into idstitch_raw.idstitch_erasures values ('lint-1', null, 'email', 'jane.doe@example.com', null, 'profile'), ('lint-2', null, 'phone', '+14155550100', null, 'identifier')\")"
	IDSTITCH_DUCKDB_PATH=$(SCRATCH)/built.duckdb $(BIN)/sqlfluff lint models analyses
	IDSTITCH_DUCKDB_PATH=$(SCRATCH)/built.duckdb $(BIN)/dbt docs generate --quiet --target-path $(SCRATCH)/docs

## the BigQuery emulator of the warehouse tests, in its own virtualenv (its DuckDB pin differs)
$(BQ_VENV)/bin/crucible: $(BQ_REQUIREMENTS)
	test -x $(BQ_VENV)/bin/python || $(PYTHON) -m venv $(BQ_VENV)
	$(BQ_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BQ_VENV)/bin/python -m pip install --quiet -r $(BQ_REQUIREMENTS)
	touch $@

## headless Chromium for the report's browser test: Debian's package, installed when missing
## (CI runs as root; elsewhere through sudo)
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	$$(test "$$(id -u)" = 0 || echo sudo) apt-get update
	$$(test "$$(id -u)" = 0 || echo sudo) env DEBIAN_FRONTEND=noninteractive \
		apt-get install --yes --no-install-recommends chromium

## pytest: the tests, a test file per worker at a time (pytest-xdist); PYTEST_WORKERS=1 runs
## them in one process
PYTEST_WORKERS ?= 2
pytest: $(BIN)/idstitch $(BQ_VENV)/bin/crucible $(CHROMIUM)
	IDSTITCH_BIGQUERY_EMULATOR_PYTHON=$(CURDIR)/$(BQ_VENV)/bin/python $(BIN)/pytest \
		$(if $(filter-out 1,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadfile)

clean:
	rm -rf target logs idstitch.duckdb .pytest_cache

# The two commands of the README: `make demo` and `make test`. Each sets up .venv if needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench airflow clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	@touch $(STAMP)

# Each purpose's Airflow DAG, run with dag.test() on an embedded Airflow (demo/airflow).
demo: $(STAMP)
	$(BIN)/python -m minimizer.demo

# The Airflow UI on http://127.0.0.1:$(AIRFLOW_PORT) (airflow standalone, same embedded setup),
# sized for a laptop (minimizer/demo.py LEAN). Refuses a port in use and the log servers'
# ports (8793, 8794) with the fix. Ctrl-C stops every component.
AIRFLOW_PORT ?= 8080
airflow: $(STAMP)
	AIRFLOW_PORT=$(AIRFLOW_PORT) $(BIN)/python -m minimizer.demo airflow

# The suite on TEST_WORKERS processes (pytest-xdist); tests that share state share a worker
# (tests/parallel_groups.py). `make test TEST_WORKERS=0` runs it in one process.
TEST_WORKERS ?= 2
XDIST = $(if $(filter-out 0,$(TEST_WORKERS)),$(shell $(BIN)/python -c 'import xdist' 2>/dev/null \
	&& printf '%s' '-n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder -p tests.parallel_groups'))
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/python -m pytest $(XDIST)

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/kanon_adult.py
	$(BIN)/python bench/gate_vs_minimise.py

clean:
	rm -rf demo .pytest_cache .ruff_cache

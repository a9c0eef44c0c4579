# Grace Memory Graph: the commands developers and CI run (GNU make).
# Needs only python3 (>= 3.11) and make: the first target that needs the tools creates the venv.
#
#   make install              create the venv and install the project with its dev tools
#   make test                 run the test suite (PYTEST_ARGS="-k relations -x" to narrow it)
#   make lint                 ruff check, ruff format --check, mypy
#   make check                lint + test: what CI runs (see .ci/run)
#   make fuzz                 the differential test with a large random budget (FUZZ_EXAMPLES,
#                             default 5000 per test; fresh cases each run, failures shrunk)
#   make serve                seed grace.db on first use, then serve on HOST:PORT
#   make bench                run the benchmarks in bench/
#   make format               apply ruff's fixes and formatting
#   make clean / clean-db     remove caches / remove the local SQLite database

VENV ?= .venv
PYTHON ?= python3
PY = $(VENV)/bin/python
BIN = $(VENV)/bin
PYTEST_ARGS ?=
BENCH_ARGS ?=
FUZZ_EXAMPLES ?= 5000
HOST ?= 127.0.0.1
PORT ?= 8000
DB_FILE ?= grace.db
DATABASE = sqlite:///./$(DB_FILE)
# Ruff must never lint a virtual environment kept inside the repository (e.g. VENV=.ci-venv).
RUFF_EXCLUDE = --extend-exclude $(VENV)

.PHONY: install test lint check fuzz serve bench format clean clean-db
# A recipe that fails leaves no half-made target (stamp file, database) behind.
.DELETE_ON_ERROR:

# The venv and the project (editable, with dev tools); reinstalls when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

test: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

# All three run even when one fails, so one CI run shows every problem.
lint: $(VENV)/.installed
	@status=0; \
	echo "ruff check"; $(BIN)/ruff check $(RUFF_EXCLUDE) . || status=1; \
	echo "ruff format --check"; $(BIN)/ruff format --check $(RUFF_EXCLUDE) . || status=1; \
	echo "mypy"; $(BIN)/mypy || status=1; \
	exit $$status

check: lint test

# tests/test_differential.py with FUZZ_EXAMPLES examples per test instead of CI's bounded,
# derandomized budget: new random documents every run, shrunk to a minimal one on failure.
# Runs on PostgreSQL too when GRAPH_TEST_PG_URL is set.
fuzz: $(VENV)/.installed
	GRAPH_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest tests/test_differential.py $(PYTEST_ARGS)

# `seed` creates the tables, then fills them with deterministic sample rows.
$(DB_FILE): | $(VENV)/.installed
	$(BIN)/grace-graph seed --scale 1 --database $(DATABASE)

serve: $(VENV)/.installed | $(DB_FILE)
	$(BIN)/grace-graph serve --database $(DATABASE) --host $(HOST) --port $(PORT)

bench: $(VENV)/.installed
	$(PY) bench/run.py $(BENCH_ARGS)

format: $(VENV)/.installed
	$(BIN)/ruff check --fix $(RUFF_EXCLUDE) .
	$(BIN)/ruff format $(RUFF_EXCLUDE) .

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache build dist
	find . -path './.*' -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

clean-db:
	rm -f $(DB_FILE) $(DB_FILE)-wal $(DB_FILE)-shm $(DB_FILE)-journal

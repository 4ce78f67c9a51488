# Two commands on a fresh machine: `make run` (install + run polydesk) and `make test`.
# `make test-fast` is the quick lane: in-process unit and property tests (no polydesk process, no pipeline run);
# `make lint` is ruff check + ruff format --check + mypy on the shipped packages (rules in pyproject.toml).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LINT_PATHS := shared services polydesk paperexchange
FAST_MARKERS := not integration and not processes and not slow

.PHONY: install run test test-fast test-all test-compose lint bench clean

$(BIN)/polydesk: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $(BIN)/polydesk

install: $(BIN)/polydesk

run: install
	$(BIN)/polydesk up

# The full suite runs on TEST_WORKERS processes (pytest-xdist): most of its time is spent waiting on services,
# sockets and settlement, not on the CPU. Tests marked `serial` (a whole pipeline under faults, timed against
# the machine) then run one at a time, so the others' load cannot starve them. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 3
test: install
	@status=0; \
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) -m "not serial" || status=1; \
	$(BIN)/python -m pytest -q -p no:cacheprovider -m serial || status=1; \
	exit $$status

test-fast: install
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "$(FAST_MARKERS)"

# Runs all three and fails if any found something, so one run shows every finding.
lint: install
	@status=0; \
	$(BIN)/ruff check $(LINT_PATHS) || status=1; \
	$(BIN)/ruff format --check $(LINT_PATHS) || status=1; \
	$(BIN)/mypy $(LINT_PATHS) || status=1; \
	exit $$status

test-all: install
	$(BIN)/python -m pytest -q --runslow

# docker-compose.yml proven on this machine in paper mode (tests/compose; not part of `make test`): installs the
# Docker engine and Compose v2 when missing, builds local stand-ins for the base images when no registry
# answers, starts the stack, trades, kills the executor, stops it all. Root (apt-get, dockerd). ~10 min cold.
test-compose: install
	$(BIN)/python -m tests.compose

bench: install
	$(BIN)/python -m bench.bus

clean:
	rm -rf $(VENV) build *.egg-info

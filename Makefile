# Two commands on a fresh machine: `make run` (install + run polydesk) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test test-all bench clean

$(BIN)/polydesk: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $(BIN)/polydesk

install: $(BIN)/polydesk

run: install
	$(BIN)/polydesk up

test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-all: install
	$(BIN)/python -m pytest -q --runslow

bench: install
	$(BIN)/python -m bench.bus

clean:
	rm -rf $(VENV) build *.egg-info

# Two commands do everything on a fresh machine (Python 3.11, pip, make, gcc):
#   make demo   install, build the demo world, backfill, train, score, evaluate, QC
#   make test   install and run the test suite
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-$(shell cksum requirements.lock | cut -d' ' -f1)
export OMP_WAIT_POLICY := PASSIVE
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: install demo test test-fast check-sqlserver bench docs clean

$(STAMP): requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/python orchestrate.py demo

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

# No SQL Server needed: dbt parse + compile of every model for the sqlserver target, the
# compiled T-SQL in build/sqlserver/, every statement parsed as T-SQL and scanned.
check-sqlserver: install
	$(BIN)/python -m tools.check_sqlserver

bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf data artifacts build dbt_project/target dbt_project/logs

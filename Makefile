# Two commands do everything on a fresh machine (Python 3.11, pip, make, gcc):
#   make demo   install, build the demo world, backfill, train, score, evaluate, QC
#   make test   install and run the test suite
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-$(shell cksum requirements.lock | cut -d' ' -f1)
export OMP_WAIT_POLICY := PASSIVE
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: install demo test test-fast check-sqlserver check-fabric bench docs browser system-deps clean

$(STAMP): requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/python orchestrate.py demo

test: install system-deps
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

# No SQL Server needed: dbt parse + compile of every model for the sqlserver target, the
# compiled T-SQL in build/sqlserver/, every statement parsed as T-SQL and scanned.
check-sqlserver: install
	$(BIN)/python -m tools.check_sqlserver

# The same for a Microsoft Fabric Warehouse (dbt-fabric 1.11.1, target fabric): no
# warehouse needed, T-SQL in build/fabric/, Fabric's rules on top (docs/scale.md).
check-fabric: install
	$(BIN)/python -m tools.check_sqlserver --adapter fabric

bench: install
	$(BIN)/python -m bench.run

# dbt's documentation (lineage) into dbt_project/target/ (index.html for `dbt docs serve`,
# static_index.html to open from disk) and the HTML report of the demo world; builds a
# tiny demo world first when there is none (tools/docs.py).
docs: install
	$(BIN)/python -m tools.docs

# System packages the tests use, from Debian (idempotent and quiet; needs root or sudo and
# apt): chromium for the report's browser test (tests/pipeline/test_report_browser.py) and
# unixODBC, pyodbc's driver manager, so the tests drive the real Microsoft ODBC Driver 18
# of the mssql-python-odbc wheel (no server). CI runs it before the tests.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SYSTEM_PKGS := $(if $(shell command -v chromium),,chromium) $(if $(shell ldconfig -p 2>/dev/null | grep libodbc.so.2),,unixodbc)
system-deps:
	@[ -z "$(strip $(SYSTEM_PKGS))" ] || { \
	  $(SUDO) apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(SYSTEM_PKGS) >/dev/null; }
	@chromium --version

browser: system-deps

clean:
	rm -rf data artifacts build dbt_project/target dbt_project/logs

# Two commands a new user needs: `make demo` and `make test`. Each installs what it needs.
# Everything is pinned by hash: requirements/bootstrap.lock (uv itself) and requirements/main.lock.
PYTHON      ?= python3.11
TOOLS       := .tools
UV          := $(TOOLS)/bin/uv
VENV        := .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed
export UV_NO_CONFIG := 1
# The machine may set PYTHONDONTWRITEBYTECODE; with it every run recompiles Airflow from source (seconds).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help install demo up down test test-fast test-faults bench lint lock clean distclean

help:  ## show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(UV): requirements/bootstrap.lock
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --require-hashes --no-deps -r requirements/bootstrap.lock
	@touch $(UV)

$(STAMP): $(UV) requirements/main.lock pyproject.toml
	test -x $(PY) || $(UV) venv --quiet --python $(PYTHON) $(VENV)
	$(UV) pip sync --quiet --compile-bytecode --python $(PY) --require-hashes requirements/main.lock
	$(UV) pip install --quiet --python $(PY) --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP)  ## create .venv from the hash-pinned lock files

# Besides Python the tests call xmllint (libxml2-utils): a second XSD engine that every batch is checked with.
XMLLINT := /usr/bin/xmllint
$(XMLLINT):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing libxml2-utils (xmllint) for the tests"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq libxml2-utils >/dev/null 2>&1 || \
	  { apt-get update -qq >/dev/null && apt-get install -y -qq libxml2-utils >/dev/null; }; \
	else \
	  echo "the tests need xmllint: install libxml2-utils (sudo apt-get install libxml2-utils)" >&2; exit 1; \
	fi

# The browser tests (tests/plugins, marker browser) drive Debian's chromium through its chromedriver (nothing
# is downloaded), with a CJK font so that the pages' Chinese is drawn in the screenshots.
CHROMEDRIVER := /usr/bin/chromedriver
$(CHROMEDRIVER):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium, chromium-driver and fonts-noto-cjk for the browser tests"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null 2>&1 || \
	  { apt-get update -qq >/dev/null && apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null; }; \
	else \
	  echo "the browser tests need chromium: sudo apt-get install chromium chromium-driver fonts-noto-cjk" >&2; exit 1; \
	fi

demo: $(STAMP)  ## run the whole flow on the embedded defaults and print what happened
	$(PY) -m samples.demo

up: $(STAMP)  ## Airflow (the gateway's DAGs and pages) and the hub on loopback, in the background; logs in var/stack/
	$(PY) -m samples.stack up

down:  ## stop what `make up` started
	$(PY) -m samples.stack down

# Both cores: pytest-xdist runs two workers, each taking whole files (--dist loadfile), so a module's
# fixtures (an Airflow stack, a hub) are made once and its tests keep their order. Much of the suite waits on
# child processes (schedulers, hubs, browsers), which the other worker's tests fill.
PYTEST_WORKERS ?= 2
test: $(STAMP) $(XMLLINT) $(CHROMEDRIVER)  ## run every test (unit, PostgreSQL, end-to-end) on two workers
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile

test-fast: $(STAMP) $(XMLLINT)  ## make test without DAG runs (e2e, scheduler, celery), crash/hub-fault runs (faults) and browser tests: a few minutes
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile -m "not e2e and not faults and not scheduler and not celery and not browser"

test-faults: $(STAMP)  ## delivery under crashes and hub faults only (also part of make test)
	$(PY) -m pytest -q -m faults

bench: $(STAMP)  ## benchmarks: every workload vs pyarrow and frictionless, 1M/5M rows, delivery, DAG parse (~25-35 min)
	$(PY) bench/run.py --scale 1000000,5000000 --delivery-mb 256

lint: $(STAMP)  ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

lock: $(UV)  ## re-resolve the lock files (main: with dev tools; runtime: what the package needs) after editing pyproject.toml
	$(UV) pip compile pyproject.toml --extra dev --extra celery --generate-hashes --python-version 3.11 --no-header -o requirements/main.lock
	$(UV) pip compile pyproject.toml --extra celery --generate-hashes --python-version 3.11 --no-header -c requirements/main.lock -o requirements/runtime.lock
	$(UV) pip compile requirements/bootstrap.in --generate-hashes --python-version 3.11 --no-header -o requirements/bootstrap.lock

clean:  ## remove runtime state (var/) but keep the environment
	rm -rf var .airflow-test

distclean: clean  ## remove the environments as well
	rm -rf $(VENV) $(TOOLS)

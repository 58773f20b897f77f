# The whole set-up on a fresh machine with python3 and pip: `make demo`, `make test`.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# mypy cannot follow setuptools' package-dir mapping, so it reads the namespace through
# links: $(TYPES)/lookout/storage -> storage/ and so on.
TYPES := $(VENV)/typecheck
# Tests that run lookout as other OS accounts need an interpreter they can reach: the
# Python above lives in root's home (mode 0700), Debian's own python3.11 does not.
OS_VENV := .venv-os
OS_STAMP := $(OS_VENV)/.installed
# Airflow 3 for the Airflow connector's tests and bench, in its own venv (it pins many
# packages). Lookout goes in beside it without its dependencies: the example DAG's
# register task needs only the SDK (and scikit-learn, which the DAG trains with).
AIRFLOW_VENV := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed
AIRFLOW_VERSION := 3.3.2

.PHONY: demo test lint bench screenshots clean tools

$(STAMP): pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	mkdir -p $(TYPES)/lookout
	for d in storage scheduler console; do ln -sfn $(CURDIR)/$$d $(TYPES)/lookout/$$d; done
	touch $(STAMP)
	@echo "Lookout is installed in $(VENV): run it as $(BIN)/lookout (or: source $(BIN)/activate)"

$(OS_STAMP): pyproject.toml
	if [ -x /usr/bin/python3.11 ]; then \
	  test -x $(OS_VENV)/bin/python || /usr/bin/python3.11 -m venv $(OS_VENV); \
	  $(OS_VENV)/bin/python -m pip install -q --upgrade pip && \
	  $(OS_VENV)/bin/python -m pip install -q -e . && touch $(OS_STAMP); \
	else echo "no /usr/bin/python3.11: tests that run as other OS accounts will skip"; fi

# Built where it can be (pip reaches an index); elsewhere the Airflow tests skip saying so
# (and fail in CI).
$(AIRFLOW_STAMP): pyproject.toml
	@if { test -x $(AIRFLOW_VENV)/bin/python || python3 -m venv $(AIRFLOW_VENV); } && \
	  $(AIRFLOW_VENV)/bin/python -m pip install -q --upgrade pip && \
	  $(AIRFLOW_VENV)/bin/python -m pip install -q "apache-airflow==$(AIRFLOW_VERSION)" scikit-learn && \
	  $(AIRFLOW_VENV)/bin/python -m pip install -q --no-deps -e . ; then touch $(AIRFLOW_STAMP); \
	else echo "could not build $(AIRFLOW_VENV): the Airflow tests will skip"; fi

demo: $(STAMP)
	@echo "lookout is $(BIN)/lookout (or: source $(BIN)/activate); the demo lives in ./lookout-demo"
	$(BIN)/lookout demo
	@echo "reopen it with: $(BIN)/lookout -w lookout-demo   (or try $(BIN)/lookout status -w lookout-demo)"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	MYPYPATH=$(TYPES) $(BIN)/mypy -p lookout.storage -p lookout.scheduler -p lookout.console
	$(BIN)/lint-imports

# Tests start a real Prometheus, open the HTML report in headless Chromium and complete
# command lines in zsh and fish, all from Debian's packages: installed here when missing
# and running as root (as CI does).
TOOLS := prometheus chromium zsh fish
tools:
	@missing=$$(for t in $(TOOLS); do command -v $$t >/dev/null || echo $$t; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $$missing (Debian packages) for the tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing $$missing: tests that need them will skip (make test as root installs them)"; fi; \
	fi

# Two pytest processes on the two cores: the end-to-end cases (marked slow; they mostly wait
# on servers and child processes) beside the rest. The slow half's report follows the
# other's; either failing fails the target.
test: lint $(OS_STAMP) tools $(AIRFLOW_STAMP)
	@log=$$(mktemp); \
	$(BIN)/python -m pytest -m slow >$$log 2>&1 & slow=$$!; \
	$(BIN)/python -m pytest -m "not slow"; fast=$$?; \
	wait $$slow; rc=$$?; echo "== end-to-end cases (-m slow)"; cat $$log; rm -f $$log; \
	test $$fast = 0 -a $$rc = 0

bench: $(STAMP) $(AIRFLOW_STAMP)
	$(BIN)/python -m pip install -q -e '.[bench]'
	for b in bench/[a-z]*.py; do $(BIN)/python -m bench.$$(basename $$b .py) || exit 1; done

screenshots: $(STAMP)
	$(BIN)/lookout screenshots --out screenshots

clean:
	rm -rf $(VENV) $(OS_VENV) $(AIRFLOW_VENV) .mypy_cache .ruff_cache

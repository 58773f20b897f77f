# The whole set-up on a fresh machine with python3 and pip: `make demo`, `make test`.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# mypy cannot follow setuptools' package-dir mapping, so it reads the namespace through
# links: $(TYPES)/lookout/storage -> storage/ and so on.
TYPES := $(VENV)/typecheck

.PHONY: demo test lint bench screenshots clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	mkdir -p $(TYPES)/lookout
	for d in storage scheduler console; do ln -sfn $(CURDIR)/$$d $(TYPES)/lookout/$$d; done
	touch $(STAMP)
	@echo "Lookout is installed in $(VENV): run it as $(BIN)/lookout (or: source $(BIN)/activate)"

demo: $(STAMP)
	$(BIN)/lookout demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	MYPYPATH=$(TYPES) $(BIN)/mypy -p lookout.storage -p lookout.scheduler -p lookout.console
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[bench]'
	for b in bench/[a-z]*.py; do $(BIN)/python -m bench.$$(basename $$b .py) || exit 1; done

screenshots: $(STAMP)
	$(BIN)/lookout screenshots --out screenshots

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache

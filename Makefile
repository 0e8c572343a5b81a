# Two commands on a fresh machine: `make demo` and `make test`. Each sets itself up and is safe to run twice.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench fuzz mutate examples clean setup compile

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# the modules' bytecode, as pip writes it for a package it installs: an editable install leaves it to each run, which
# writes none where PYTHONDONTWRITEBYTECODE is set, and each command then compiles its modules again (see README)
compile: $(STAMP)
	$(PY) -m compileall -q src > /dev/null

demo: $(STAMP) compile
	$(PY) scripts/demo.py

test: $(STAMP) lint compile
	bash scripts/system-packages.sh
	$(PY) -m pytest -q

# ruff (lint and format check) over everything, mypy over the core modules (pyproject [tool.mypy])
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/ruff format --check src tests bench scripts
	$(VENV)/bin/mypy

# The long fuzz run: OSLOMIG_FUZZ_CASES mutated files through validate and the commands (make test runs 300)
fuzz: $(STAMP)
	OSLOMIG_FUZZ_CASES=$${OSLOMIG_FUZZ_CASES:-20000} $(PY) -m pytest -q -p no:cacheprovider tests/test_fuzz.py

# Mutation testing of the core modules (see README); prints the score
mutate: $(STAMP)
	$(PY) scripts/mutate.py $(if $(SAMPLE),--sample $(SAMPLE))

bench: $(STAMP)
	bash scripts/system-packages.sh bench
	$(PY) bench/run.py

# Regenerate the shipped example estate (deterministic: the output is committed).
examples: $(STAMP)
	$(PY) scripts/generate_examples.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache

# Two commands on a fresh machine: `make demo` and `make test`. Each sets itself up and is safe to run twice.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench examples clean setup

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) scripts/demo.py

test: $(STAMP)
	bash scripts/system-packages.sh
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) bench/run.py

# Regenerate the shipped example estate (deterministic: the output is committed).
examples: $(STAMP)
	$(PY) scripts/generate_examples.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache

# The README's commands. Everything installs into .venv from pinned versions (requirements/constraints.txt).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= demo

.PHONY: install demo test bench lint clean

$(STAMP): pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements/constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m jetgraph.io.examples $(DEMO_DIR)/jetclass_synthetic.root --jets 5000
	$(VENV)/bin/jetgraph inspect $(DEMO_DIR)/jetclass_synthetic.root

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check jetgraph tests benchmarks
	$(VENV)/bin/ruff format --check jetgraph tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/io.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache

# Two commands: `make run` and `make test`. Everything else is made on the way when missing.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
# This machine's pip config names local package folders that may not exist; hide that noise only.
QUIET_PIP := 2>&1 | { grep -v '^WARNING: Location' || true; }
.DEFAULT_GOAL := run

VENV      := .venv
RASA_VENV := .venv-rasa
STAMP     := $(VENV)/.installed
RASA_STAMP := $(RASA_VENV)/.installed

# Python 3.11 for the app; Python 3.10 for Rasa 3.6 (RASA_PYTHON overrides the search).
find_python = $(firstword $(foreach c,$(1),$(shell $(c) -c 'import sys; print(sys.executable)' 2>/dev/null)))
PYTHON311 ?= $(call find_python,python3.11 $(wildcard $(HOME)/.pyenv/versions/3.11*/bin/python3.11) /usr/bin/python3.11)
RASA_PYTHON ?= $(call find_python,python3.10 $(wildcard $(HOME)/.pyenv/versions/3.10*/bin/python3.10) /usr/bin/python3.10)

.PHONY: run test lint bench setup venvs clean-state help

help:
	@echo "make run   - set up what is missing, then start the whole system (Ctrl-C stops it)"
	@echo "make test  - set up what is missing, then run the whole test suite"
	@echo "make lint  - ruff, the import-linter layer contracts and mypy (what CI checks)"
	@echo "make bench - benchmarks (ratios against a baseline run side by side)"

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -n "$(PYTHON311)" || { echo "Python 3.11 not found: install python3.11 (or set PYTHON311=/path/to/python3.11)"; exit 1; }
	@test -x $(VENV)/bin/python || $(PYTHON311) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip $(QUIET_PIP)
	$(VENV)/bin/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt $(QUIET_PIP)
	$(VENV)/bin/python -m pip install --quiet --no-deps -e . $(QUIET_PIP)
	@touch $@

$(RASA_STAMP): requirements-rasa.txt
	@test -n "$(RASA_PYTHON)" || { echo "Rasa 3.6 needs Python 3.10, which was not found. Install it (e.g. 'pyenv install 3.10' or the python3.10 package) or set RASA_PYTHON=/path/to/python3.10"; exit 1; }
	@test -x $(RASA_VENV)/bin/python || $(RASA_PYTHON) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/python -m pip install --quiet --upgrade pip $(QUIET_PIP)
	$(RASA_VENV)/bin/python -m pip install --quiet -r requirements-rasa.txt $(QUIET_PIP)
	@touch $@

venvs: $(STAMP) $(RASA_STAMP)

# Detection model (models/detection-model.joblib, not committed): retrained when its data or code
# change (detection/classifier/train.py also checks a fingerprint, so a stale model is never used).
DETECT_STAMP := models/.detection-model
$(DETECT_STAMP): $(STAMP) $(wildcard detection/data/*.jsonl detection/data/*/*.jsonl detection/classifier/*.py detection/classifier/*.yml)
	$(VENV)/bin/python -m detection.classifier.train
	@mkdir -p $(dir $@) && touch $@

# Risk model (models/risk-model.joblib, not committed): retrained when its data, code or lexicon change
# (assistant/safety/risk/train.py also checks a fingerprint). A few minutes: it embeds the messages.
RISK_STAMP := models/.risk-model
$(RISK_STAMP): $(STAMP) $(wildcard assistant/safety/data/*.jsonl assistant/safety/data/*/*.jsonl assistant/safety/risk/*.py) assistant/safety/lexicon.yml
	$(VENV)/bin/python -m assistant.safety.risk.train
	@mkdir -p $(dir $@) && touch $@

# .env with fresh secrets, database schema, knowledge index, Rasa model (each only if needed).
setup: venvs $(DETECT_STAMP) $(RISK_STAMP)
	$(VENV)/bin/dasi init

run: setup
	$(VENV)/bin/dasi up

test: setup
	$(VENV)/bin/python -m pytest -ra $(PYTEST_ARGS)

# Packages mypy checks; add a package here once it passes.
MYPY_PACKAGES := assistant/core assistant/language assistant/safety assistant/web assistant/store assistant/cli connectors actions

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy --follow-imports=silent $(MYPY_PACKAGES)

bench: setup
	$(VENV)/bin/python -m bench

# Two commands: `make run` and `make test`. Both create or refresh .venv first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTHON ?= $(shell command -v python3.11 || command -v python3)
PYTEST_ARGS ?=

.PHONY: run test venv lint format system-deps clean

# Reinstalled whenever pyproject.toml or the pinned constraints change.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 is required" >&2; exit 1; }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[airflow,dev]'
	@touch $(STAMP)

venv: $(STAMP)

run: venv
	$(VENV)/bin/threekcal up

test: venv
	$(PY) -m ruff check src tests dags bench
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(PY) -m ruff check src tests dags bench
	$(PY) -m ruff format --check src tests dags bench

format: venv
	$(PY) -m ruff check --fix src tests dags bench
	$(PY) -m ruff format src tests dags bench

# Debian packages for the Spark JDBC jar, Redis (shared rate limits) and the browser tests, with fonts for Korean and emoji in
# screenshots (needs root; .ci/run calls it).
SYSTEM_PACKAGES := chromium libmariadb-java redis-server redis-tools fonts-noto-cjk fonts-noto-color-emoji
system-deps:
	@dpkg -s $(SYSTEM_PACKAGES) >/dev/null 2>&1 || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); }

clean:
	rm -rf $(VENV) var .pytest_cache

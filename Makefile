# Two commands a fresh machine needs: `make run` (app on the sample workspace) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
ADDRESS ?= 127.0.0.1

.PHONY: run test test-slow test-next-year test-spark bench sample clean-workspace

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[test]"
	touch $@

$(VENV)/.installed-spark: pyproject.toml | $(VENV)/.installed
	$(BIN)/pip install -q -e ".[test,spark]"
	touch $@

$(VENV)/.installed-bench: pyproject.toml | $(VENV)/.installed
	$(BIN)/pip install -q -e ".[test,bench]"
	touch $@

.streamlit/secrets.toml:
	$(BIN)/python -c "import secrets; open('.streamlit/secrets.toml','w').write('[auth]\ncookie_key = \"%s\"\n' % secrets.token_urlsafe(48))"
	chmod 600 .streamlit/secrets.toml

.streamlit/auth.yaml: | $(VENV)/.installed
	$(BIN)/cdp users demo

workspace/cdp.duckdb: | $(VENV)/.installed
	$(BIN)/cdp sample

sample: $(VENV)/.installed
	$(BIN)/cdp sample --force

run: $(VENV)/.installed .streamlit/secrets.toml .streamlit/auth.yaml workspace/cdp.duckdb
	$(BIN)/streamlit run server.py --server.port $(PORT) --server.address $(ADDRESS)

# The everyday suite: every test but those marked slow (several seconds each: whole-sample
# builds, bench smoke runs, real browsers, multi-process races) or browser; `make test-slow` runs
# those. CI runs both, then the suite a year ahead, then the Spark suite.
test: $(VENV)/.installed
	$(BIN)/python -m pytest -n auto --dist worksteal --ignore=tests/spark -m "not slow and not browser"

test-slow: $(VENV)/.installed
	$(BIN)/python -m pytest -n auto --dist worksteal --ignore=tests/spark -m "slow or browser"

# The suite again with the machine clock a year ahead (Debian's faketime): a test or a
# feature that silently depends on today's date fails here first. CI runs both.
# tests/clock/sitecustomize.py says why the monotonic clock stays real.
test-next-year: $(VENV)/.installed
	PYTHONPATH=$(CURDIR)/tests/clock FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_CACHE_DURATION=86400 \
	  faketime -f "+365d" $(BIN)/python -m pytest -n auto --dist worksteal --ignore=tests/spark -m "not browser and not file_times"

# The Spark equivalence suite: the same inputs through DuckDB and PySpark local[2] (needs Java 17+).
test-spark: $(VENV)/.installed-spark
	$(BIN)/python -m pytest tests/spark -p no:xdist -W ignore::FutureWarning

bench: $(VENV)/.installed-bench
	$(BIN)/python bench/run.py

clean-workspace:
	rm -rf workspace

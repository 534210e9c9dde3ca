# Every target installs what it needs into .venv first (a machine with only Python 3.11+ is enough).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: help venv install install-dev install-bench demo test lint bench chart-js clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/ —/'

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.core: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.demo: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[storage,notebooks]'
	touch $@

$(VENV)/.dev: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[dev]'
	touch $@

$(VENV)/.bench: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[dev,bench]'
	touch $@

install: $(VENV)/.core  ## core package into .venv
install-dev: $(VENV)/.dev  ## package + test tools
install-bench: $(VENV)/.bench  ## package + peers for benchmarks

demo: $(VENV)/.demo  ## report both inherited strategies on bundled real candles; prints reports/index.html
	$(VENV)/bin/coinbt demo

test: $(VENV)/.dev  ## the whole test suite
	$(VENV)/bin/ruff check coinbt tests benchmarks notebooks
	$(PY) -m pytest

bench: $(VENV)/.bench  ## speed and memory against peers, JSON in benchmarks/results/
	$(PY) -m benchmarks.run
	$(PY) -m benchmarks.bench_vzb
	$(PY) -m benchmarks.bench_sweep
	$(PY) -m benchmarks.bench_storage
	$(PY) -m benchmarks.bench_jobs
	$(PY) -m benchmarks.bench_reports
	$(PY) -m benchmarks.bench_dashboards

chart-js:  ## rebuild the dashboards' chart widget (coinbt/dashboards/static/chart.js) from js/chart; needs npm
	cd js/chart && npm ci --no-audit --no-fund && npm run build

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info

# JourneyRank — `make help` lists the targets. Everything runs through uv and the committed uv.lock.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never
PYTHON ?= python3
UV ?= $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
RUN := $(UV) run --frozen
SAMPLE := data/sample
SAMPLE_DAYS := 21
SAMPLE_SEED := 20261101

.PHONY: help setup demo test test-fast reliability bench bench-quality lint format sample docs notebooks clean

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

setup: ## Install uv if missing, then the locked environment (.venv)
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --all-extras

demo: setup ## Run the main job on the embedded defaults and print the result
	$(RUN) journeyrank demo

test: setup ## Run every test (unit, contract, model, integration); installs the programs they start when it can
	@scripts/install-test-programs.sh
	$(RUN) pytest

test-fast: setup ## Run the tests that start no servers
	$(RUN) pytest -m "not integration and not browser"

reliability: setup ## Fuzz, load, kill -9 and downstream-down on loopback; prints the table (also in `make test`)
	$(RUN) pytest tests/serving/test_reliability.py

bench: setup ## Run the benchmarks side by side and print ratios
	$(RUN) python -m benchmarks

bench-quality: setup ## Ranking quality on every simulated world and 3 seeds, against the truth (~4.5 min; CONFIG=train.yaml judges a training config; LABELS_ONLY=1 its labels alone, ~2 min; draws its verdicts to bench-data/quality_goals.png)
	$(RUN) python -m benchmarks.quality $(if $(CONFIG),--config $(CONFIG)) $(if $(LABELS_ONLY),--labels-only)

lint: setup ## Lint and check formatting with ruff
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format: setup ## Format the code with ruff
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

sample: setup ## Re-make the committed sample data set (data/sample)
	$(RUN) journeyrank simulate --out $(SAMPLE) --days $(SAMPLE_DAYS) --seed $(SAMPLE_SEED)
	$(RUN) python -m pipeline.incoming $(SAMPLE)

docs: setup ## Regenerate the docs made from code (data contract, feature catalogue)
	$(RUN) python -m pipeline.docs

notebooks: setup ## Rebuild notebooks/*.ipynb from their sources in notebooks/src/ (no outputs)
	$(RUN) python notebooks/build_notebooks.py

clean: ## Remove the working folder and caches (keeps the sample data)
	rm -rf .journeyrank .pytest_cache .ruff_cache test-artifacts

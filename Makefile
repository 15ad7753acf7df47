# mixlab: `make demo` runs the whole pipeline (configs/demo/pipeline.yaml) on the embedded demo corpus on CPU;
# `make test` runs the test suite.
# Both create/refresh .venv first. On a CPU-only machine the CPU build of torch is installed before the rest
# so nothing pulls a multi-GB CUDA build; set TORCH_SPEC/TORCH_PIP_ARGS to change that.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.mixlab-installed

.PHONY: demo test lint setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	if ! command -v nvidia-smi >/dev/null 2>&1; then \
		$(BIN)/python -m pip install -q $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"; fi
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python -m mixlab.verifiers.punkt_tab  # NLTK punkt_tab for lm-eval's IFEval, offline (also lazy on use)
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mixlab run configs/demo/pipeline.yaml  # rerunning it redoes only what changed (runs/demo-pipeline/run.json)

test: $(STAMP)
	$(BIN)/python -m pytest -q -x --durations=15

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf runs .pytest_cache

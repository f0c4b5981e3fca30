# Two commands on a fresh machine with only Python >= 3.11:
#   make run    set everything up, run the `train` pipeline on the embedded sample
#   make test   set everything up, run the whole test suite (unit tests + nbmake)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NOTEBOOKS := $(wildcard templates/*.ipynb notebooks/*.ipynb)
TEST_OUTPUTS := $(CURDIR)/.test-outputs

.PHONY: install run test unit notebooks lint clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "mlops-nb needs Python 3.11 or newer; run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (mlops-nb)" >/dev/null
	@touch $(STAMP)

run: install
	$(BIN)/mlops-nb run train

test: install
	rm -rf $(TEST_OUTPUTS)
	MLOPS_NB_OUTPUTS=$(TEST_OUTPUTS) $(BIN)/python -m pytest tests --nbmake $(NOTEBOOKS)

unit: install
	$(BIN)/python -m pytest tests

lint: install
	$(BIN)/ruff check mlops_nb tests

clean:
	rm -rf $(VENV) $(TEST_OUTPUTS) .pytest_cache .ruff_cache

# The two commands the README starts with. Each does its own set-up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint clean install audit-workflows

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/modelcd demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

lint: $(STAMP)
	$(BIN)/ruff check cd tests benchmarks
	$(BIN)/ruff format --check cd tests benchmarks
	$(BIN)/mypy

# Install modelcd into .venv; inside GitHub Actions also put .venv/bin on PATH for later steps.
install: $(STAMP)
	@if [ -n "$$GITHUB_PATH" ]; then echo "$(abspath $(BIN))" >> "$$GITHUB_PATH"; fi

# Audit .github/ (workflows) with zizmor, offline.
audit-workflows: $(STAMP)
	$(BIN)/zizmor --offline .github/

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

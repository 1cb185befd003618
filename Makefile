# The two commands the README starts with (`make demo`, `make test`). Each does its own set-up on a
# fresh machine: it bootstraps a pinned uv with pip, then installs exactly requirements.lock (hashes
# checked, byte-compiled) into .venv, and modelcd itself in editable mode without touching the index.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
UV_LOCK := requirements-uv.lock
UV_VERSION := 0.13.9
UV_DIR := .tools/uv-$(UV_VERSION)
UV := $(UV_DIR)/bin/uv
STAMP := $(VENV)/.installed-stamp
# One resolution for every platform, Python 3.11 and up; no index address is written into the lock.
COMPILE := pip compile pyproject.toml --extra dev --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" --quiet

.PHONY: demo test test-fast lint clean install audit-workflows lock lock-upgrade check-lock

$(UV): $(UV_LOCK)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --require-hashes \
		--target $(UV_DIR) -r $(UV_LOCK)
	touch $(UV)

$(STAMP): pyproject.toml $(LOCK) $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip sync --quiet --python $(BIN)/python --require-hashes --compile-bytecode $(LOCK)
	$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation --compile-bytecode -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/modelcd demo

# Everything, as CI runs it: the lock must match pyproject.toml, then the whole suite.
test: check-lock $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

# The pure core only (config, gate statistics, rollout decisions, policies, notes): no servers, builds
# or subprocesses; seconds, for the edit-test loop. `make test` runs these too.
FAST_TESTS := tests/config tests/cli/test_exit_codes.py \
	tests/gates/test_bootstrap.py tests/gates/test_judge.py tests/gates/test_metrics.py \
	tests/gates/test_slicing.py tests/gates/test_thresholds.py tests/gates/test_verdict_and_report.py \
	tests/rollout/test_decide.py tests/rollout/test_analysis.py tests/rollout/test_record.py \
	tests/github_commands/test_approvals_policy.py tests/github_commands/test_drift_core.py \
	tests/github_commands/test_override_rules.py tests/github_commands/test_promote_edit.py \
	tests/github_commands/test_comment_and_statuses.py tests/release/test_notes.py tests/release/test_plan.py
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" -p no:xdist $(FAST_TESTS)

lint: $(STAMP)
	$(BIN)/ruff check cd tests benchmarks
	$(BIN)/ruff format --check cd tests benchmarks
	$(BIN)/mypy  # cd, tests and benchmarks (pyproject.toml)

# Install modelcd into .venv; inside GitHub Actions also put .venv/bin on PATH for later steps.
install: $(STAMP)
	@if [ -n "$$GITHUB_PATH" ]; then echo "$(abspath $(BIN))" >> "$$GITHUB_PATH"; fi

# Fails when requirements.lock no longer matches pyproject.toml (re-resolves, keeping every pin).
check-lock: $(UV)
	@grep -q '^uv==$(UV_VERSION) ' $(LOCK) || { echo "$(LOCK) pins another uv than UV_VERSION=$(UV_VERSION) (Makefile)" >&2; exit 1; }
	@tmp=$$(mktemp -d) && cp $(LOCK) $$tmp/lock && \
	$(UV) $(COMPILE) -o $$tmp/lock && \
	if diff -u $(LOCK) $$tmp/lock > $$tmp/diff; then rm -rf $$tmp; \
	else cat $$tmp/diff; rm -rf $$tmp; \
		echo "$(LOCK) is stale against pyproject.toml: run 'make lock' and commit it" >&2; exit 1; fi

# After editing pyproject.toml: re-resolve, keeping the pins that still fit.
lock: $(UV)
	$(UV) $(COMPILE) -o $(LOCK)

# On purpose: move every pin to the newest release that fits pyproject.toml.
lock-upgrade: $(UV)
	$(UV) $(COMPILE) --upgrade -o $(LOCK)

# Audit .github/ (workflows) with zizmor, offline.
audit-workflows: $(STAMP)
	$(BIN)/zizmor --offline .github/

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache

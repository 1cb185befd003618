# The two commands the README starts with (`make demo`, `make test`). Each does its own set-up on a
# fresh machine: it bootstraps a pinned uv with pip, then installs exactly requirements.lock (hashes
# checked, byte-compiled) into .venv, and modelcd itself in editable mode without touching the index.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
RUNTIME_LOCK := requirements-runtime.lock
UV_LOCK := requirements-uv.lock
UV_VERSION := 0.13.9
UV_DIR := .tools/uv-$(UV_VERSION)
UV := $(UV_DIR)/bin/uv
STAMP := $(VENV)/.installed-stamp
# One resolution for every platform, Python 3.11 and up; no index address is written into the lock.
# requirements.lock: modelcd with its dev extra (the demo, the tests, lint). requirements-runtime.lock: what
# modelcd's commands need and nothing else (`make install`, in the Actions workflows), the same pins.
COMPILE := pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" --quiet
COMPILE_DEV := $(COMPILE) --extra dev
COMPILE_RUNTIME := $(COMPILE) --extra build --extra explain --constraint $(LOCK)

.PHONY: demo test test-fast lint clean install dev-venv browser audit-workflows lock lock-upgrade check-lock

$(UV): $(UV_LOCK)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --require-hashes \
		--target $(UV_DIR) -r $(UV_LOCK)
	touch $(UV)

# $(STAMP) records which lock .venv holds: `make install` (runtime) after `make test` (dev) re-syncs.
sync = rm -f $(STAMP) && $(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV) && \
	$(UV) pip sync --quiet --python $(BIN)/python --require-hashes --compile-bytecode $(1) && \
	$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation --compile-bytecode -e . && \
	echo $(1) > $(STAMP)

$(STAMP): pyproject.toml $(LOCK) $(RUNTIME_LOCK) $(UV)
	$(call sync,$(LOCK))

dev-venv: $(STAMP)
	@grep -qx '$(LOCK)' $(STAMP) || { $(call sync,$(LOCK)); }

demo: dev-venv
	$(BIN)/modelcd demo

# Debian's Chromium for the HTML reports' browser test, installed when missing (root, or sudo without a
# password); never a browser a test tool downloads.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
		else echo "chromium is missing and cannot be installed without root: apt-get install chromium" >&2; exit 0; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Everything, as CI runs it: the lock must match pyproject.toml, then the whole suite.
test: check-lock dev-venv browser
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -q

# The pure core only (config, gate statistics, rollout decisions, policies, notes): no servers, builds
# or subprocesses; seconds, for the edit-test loop. `make test` runs these too.
FAST_TESTS := tests/config tests/cli/test_exit_codes.py \
	tests/gates/test_bootstrap.py tests/gates/test_judge.py tests/gates/test_metrics.py \
	tests/gates/test_slicing.py tests/gates/test_thresholds.py tests/gates/test_verdict_and_report.py \
	tests/rollout/test_decide.py tests/rollout/test_analysis.py tests/rollout/test_record.py \
	tests/github_commands/test_approvals_policy.py tests/github_commands/test_drift_core.py \
	tests/github_commands/test_override_rules.py tests/github_commands/test_promote_edit.py \
	tests/github_commands/test_comment_and_statuses.py tests/release/test_notes.py tests/release/test_plan.py
test-fast: dev-venv
	$(BIN)/python -m pytest -q -m "not slow" -p no:xdist $(FAST_TESTS)

lint: dev-venv
	$(BIN)/ruff check cd tests benchmarks
	$(BIN)/ruff format --check cd tests benchmarks
	$(BIN)/mypy  # cd, tests and benchmarks (pyproject.toml)

# Install modelcd with what its commands need (the runtime lock) into .venv; inside GitHub Actions also
# put .venv/bin on PATH for later steps.
install: $(UV) $(RUNTIME_LOCK)
	@grep -qx '$(RUNTIME_LOCK)' $(STAMP) 2>/dev/null || { $(call sync,$(RUNTIME_LOCK)); }
	@if [ -n "$$GITHUB_PATH" ]; then echo "$(abspath $(BIN))" >> "$$GITHUB_PATH"; fi

# Fails when requirements.lock no longer matches pyproject.toml (re-resolves, keeping every pin).
check-lock: $(UV)
	@grep -q '^uv==$(UV_VERSION) ' $(LOCK) || { echo "$(LOCK) pins another uv than UV_VERSION=$(UV_VERSION) (Makefile)" >&2; exit 1; }
	@tmp=$$(mktemp -d) && cp $(LOCK) $$tmp/lock && cp $(RUNTIME_LOCK) $$tmp/runtime && \
	$(UV) $(COMPILE_DEV) -o $$tmp/lock && $(UV) $(COMPILE_RUNTIME) -o $$tmp/runtime && \
	if diff -u $(LOCK) $$tmp/lock > $$tmp/diff && diff -u $(RUNTIME_LOCK) $$tmp/runtime >> $$tmp/diff; \
	then rm -rf $$tmp; \
	else cat $$tmp/diff; rm -rf $$tmp; \
		echo "the lock files are stale against pyproject.toml: run 'make lock' and commit them" >&2; exit 1; fi

# After editing pyproject.toml: re-resolve, keeping the pins that still fit.
lock: $(UV)
	$(UV) $(COMPILE_DEV) -o $(LOCK)
	$(UV) $(COMPILE_RUNTIME) -o $(RUNTIME_LOCK)

# On purpose: move every pin to the newest release that fits pyproject.toml.
lock-upgrade: $(UV)
	$(UV) $(COMPILE_DEV) --upgrade -o $(LOCK)
	$(UV) $(COMPILE_RUNTIME) -o $(RUNTIME_LOCK)

# Audit .github/ (workflows) with zizmor, offline.
audit-workflows: dev-venv
	$(BIN)/zizmor --offline .github/

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache

"""Fixtures shared by every area. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cd.registry import FluentState
from tests.helpers import GitRepo, make_template_repo

# The GitHub API double (contract-checked against GitHub's OpenAPI description), for every area.
pytest_plugins = ["tests.github_double.fixtures"]


@pytest.fixture
def template_repo(tmp_path: Path) -> GitRepo:
    """A real git repository with the example template committed on `main`."""
    return make_template_repo(tmp_path / "repo")


_MLFLOW_ENV_AT_START = {name: os.environ.get(name) for name in FluentState.ENV_NAMES}


@pytest.fixture(autouse=True)
def _mlflow_fluent_state_is_left_as_found() -> Iterator[None]:
    """MLflow's process-wide store URIs must not outlive the code that set them (`Registry.fluent`).

    A leaked registry URI once sent a later test's registrations to another test's store, depending
    on which tests an xdist worker happened to run first."""
    yield
    if "mlflow" not in sys.modules:
        return
    pristine = FluentState(tracking_uri=None, registry_uri=None, environ=_MLFLOW_ENV_AT_START)
    now = FluentState.capture()
    if now != pristine:
        pristine.restore()
        pytest.fail(f"MLflow process-wide state leaked past this test: {now}")


# The suite's longest files, longest first (worker-seconds measured on a 2-core run, December 2026).
# `make test` runs `--dist loadfile --no-loadscope-reorder`: files are handed out in collection order,
# so these start at once and the many short files fill the gaps: longest-processing-time-first, whose
# makespan is close to the total divided by the workers. Files not named keep their order after them.
LONGEST_FIRST = (
    "tests/demo/test_demo.py",  # ~300 s: the whole demo story
    "tests/package/test_bento_serving.py",  # ~120 s
    "tests/local/test_real_bento.py",  # ~90 s
    "tests/demo/test_demo_interrupt.py",
    "tests/gates/test_mlflow_server.py",
    "tests/rollout/test_sagemaker_rollout.py",
    "tests/gates/test_end_to_end.py",
    "tests/workflows/test_pr_gate_steps.py",
    "tests/rollout/test_kill.py",
    "tests/registry/test_registry.py",
    "tests/gates/test_statistics.py",
    "tests/local/test_rollout_on_local.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))  # stable

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

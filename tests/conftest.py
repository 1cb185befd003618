"""Fixtures shared by every area. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import GitRepo, make_template_repo

# The GitHub API double (contract-checked against GitHub's OpenAPI description), for every area.
pytest_plugins = ["tests.github_double.fixtures"]


@pytest.fixture
def template_repo(tmp_path: Path) -> GitRepo:
    """A real git repository with the example template committed on `main`."""
    return make_template_repo(tmp_path / "repo")

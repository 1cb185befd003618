"""pytest plugin providing the `github_double` fixture.

It is registered for every test area by `pytest_plugins` in tests/conftest.py: take `github_double` as
a fixture argument. It is a started `GitHubDouble` (a fresh one per test,
on a free 127.0.0.1 port); `github_double.env("acme/models")` gives GITHUB_API_URL/GITHUB_TOKEN/
GITHUB_REPOSITORY for a client. At teardown the fixture fails the test if the double saw any request or
produced any response that violates GitHub's OpenAPI description.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.github_double.double import GitHubDouble, running_double


@pytest.fixture(name="github_double")
def github_double_fixture() -> Iterator[GitHubDouble]:
    with running_double() as double:
        yield double

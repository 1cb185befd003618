"""A GitHub REST API double for tests, contract-checked against GitHub's OpenAPI description.

See tests/github_double/README.md. Get the fixture with
`from tests.github_double.fixtures import github_double_fixture  # noqa: F401` in tests/<area>/conftest.py.
"""

from tests.github_double.double import (
    DEFAULT_LOGIN,
    DEFAULT_TOKEN,
    GitHubDouble,
    RecordedRequest,
    running_double,
)

__all__ = ["DEFAULT_LOGIN", "DEFAULT_TOKEN", "GitHubDouble", "RecordedRequest", "running_double"]

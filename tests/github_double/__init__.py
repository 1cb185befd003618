"""A GitHub REST API double for tests, contract-checked against GitHub's OpenAPI description.

See tests/github_double/README.md. Register the fixture with
`pytest_plugins = ["tests.github_double.fixtures"]` in tests/<area>/conftest.py.
"""

from tests.github_double.double import (
    DEFAULT_LOGIN,
    DEFAULT_TOKEN,
    GitHubDouble,
    RecordedRequest,
    running_double,
)

__all__ = ["DEFAULT_LOGIN", "DEFAULT_TOKEN", "GitHubDouble", "RecordedRequest", "running_double"]

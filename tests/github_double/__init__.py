"""A GitHub REST API double for tests, contract-checked against GitHub's OpenAPI description.

See tests/github_double/README.md. The `github_double` fixture is registered in tests/conftest.py.
"""

from tests.github_double.double import (
    DEFAULT_LOGIN,
    DEFAULT_TOKEN,
    GitHubDouble,
    RecordedRequest,
    running_double,
)

__all__ = ["DEFAULT_LOGIN", "DEFAULT_TOKEN", "GitHubDouble", "RecordedRequest", "running_double"]

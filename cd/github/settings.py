"""Settings for talking to GitHub, read from the GitHub Actions environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from cd.errors import GitHubError

PUBLIC_API_URL = "https://api.github.com"


@dataclass(frozen=True)
class GitHubSettings:
    token: str
    repository: str  # "owner/name"
    api_url: str = PUBLIC_API_URL
    sha: str | None = None

    @property
    def owner(self) -> str:
        return self.repository.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.repository.split("/", 1)[1]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GitHubSettings:
        """GITHUB_TOKEN, GITHUB_REPOSITORY (owner/name), GITHUB_API_URL (GitHub Enterprise), GITHUB_SHA."""
        values = os.environ if env is None else env
        missing = [k for k in ("GITHUB_TOKEN", "GITHUB_REPOSITORY") if not values.get(k)]
        if missing:
            raise GitHubError(
                f"GitHub settings: {' and '.join(missing)} not set; in GitHub Actions pass "
                "`env: GITHUB_TOKEN: ${{ github.token }}` to the step (GITHUB_REPOSITORY is set by Actions)"
            )
        repository = values["GITHUB_REPOSITORY"]
        owner, _, name = repository.partition("/")
        if not owner or not name or "/" in name:
            raise GitHubError(f"GitHub settings: GITHUB_REPOSITORY must be 'owner/name', got {repository!r}")
        return cls(
            token=values["GITHUB_TOKEN"],
            repository=repository,
            api_url=(values.get("GITHUB_API_URL") or PUBLIC_API_URL).rstrip("/"),
            sha=values.get("GITHUB_SHA") or None,
        )

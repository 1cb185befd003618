from __future__ import annotations

import pytest

from cd.github.api import GitHubClient
from cd.github.ratelimit import RetryPolicy
from tests.github_double import GitHubDouble

REPO = "acme/models"


class FakeClock:
    """Injected time: `sleep` advances `now` and records the waits; nothing really sleeps."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def double(github_double: GitHubDouble) -> GitHubDouble:
    github_double.create_repo(REPO)
    return github_double


@pytest.fixture
def client(double: GitHubDouble, clock: FakeClock) -> GitHubClient:
    return GitHubClient.from_env(double.env(REPO), retry=RetryPolicy(sleep=clock.sleep, clock=clock.time))

"""GitHub deployments and deployment statuses for environment rollouts, against the API double."""

from __future__ import annotations

import pytest

from cd.errors import RolloutError
from cd.github.api import GitHubClient
from cd.github.deployments import tracked_deployment
from cd.github.settings import GitHubSettings
from tests.github_double import GitHubDouble
from tests.workflows.events import REPO

SHA = "e5" * 20
RUN = "https://github.com/acme/models/actions/runs/9"


@pytest.fixture
def client(github_double: GitHubDouble) -> GitHubClient:
    github_double.create_repo(REPO, head_sha=SHA)
    return GitHubClient(GitHubSettings(token=github_double.token, repository=REPO, api_url=github_double.url))


def test_a_successful_rollout_goes_in_progress_then_success(
    github_double: GitHubDouble, client: GitHubClient
) -> None:
    with tracked_deployment(
        client, env="production", model="churn", version=2, ref=SHA, log_url=RUN
    ) as deployment:
        (created,) = github_double.repo(REPO).deployments.values()
        assert [s.state for s in created.statuses] == ["in_progress"]
    assert (created.id, created.environment, created.sha, created.payload) == (
        deployment.id,
        "production",
        SHA,
        {"model": "churn", "version": 2},
    )
    assert created.production_environment is True
    assert [(s.state, s.description, s.log_url) for s in created.statuses] == [
        ("in_progress", "rolling out churn v2", RUN),
        ("success", "churn v2 is live", RUN),
    ]


def test_a_failed_rollout_ends_in_failure_with_the_reason(
    github_double: GitHubDouble, client: GitHubClient
) -> None:
    with (
        pytest.raises(RolloutError),
        tracked_deployment(client, env="staging", model="churn", version=3, ref=SHA),
    ):
        raise RolloutError("rolled back: candidate error rate 4.1% > 1.0%")
    (created,) = github_double.repo(REPO).deployments.values()
    assert created.production_environment is False
    assert [(s.state, s.description) for s in created.statuses][-1] == (
        "failure",
        "churn v3: rolled back: candidate error rate 4.1% > 1.0%",
    )

"""GitHub deployments and their statuses for each rollout, against the contract-checked API double."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from cd.config import load_repo
from cd.config.model import Environment
from cd.errors import TargetError
from cd.github.api import GitHubClient
from cd.github.settings import GitHubSettings
from cd.rollout.controller import Outcome, RolloutReport
from cd.rollout.deploy import DeployRequest, deploy
from cd.rollout.github_sync import GitHubDeploymentStatuses, GitRollbackProposer
from tests.github_double import GitHubDouble
from tests.helpers import GitRepo
from tests.workflows.events import REPO

SHA = "e5" * 20


@pytest.fixture
def client(github_double: GitHubDouble) -> GitHubClient:
    github_double.create_repo(REPO, head_sha=SHA)
    return GitHubClient(GitHubSettings(token=github_double.token, repository=REPO, api_url=github_double.url))


def environment(repo: GitRepo, name: str) -> Environment:
    return load_repo(repo.path).environments[name]


def report(outcome: Outcome, version: int = 2, stable: int | None = None) -> RolloutReport:
    return RolloutReport(
        "modelcd-staging-churn",
        "churn",
        version,
        outcome,
        "candidate error rate 4.1% > 1.0%",
        stable_version=stable,
    )


def test_a_successful_rollout_goes_in_progress_then_success(
    github_double: GitHubDouble, client: GitHubClient, template_repo: GitRepo
) -> None:
    statuses = GitHubDeploymentStatuses(client, SHA, say=print)
    production = environment(template_repo, "production")
    statuses.started(production, "churn", 2)
    (created,) = github_double.repo(REPO).deployments.values()
    assert [s.state for s in created.statuses] == ["in_progress"]
    statuses.finished(production, "churn", report("succeeded"))
    assert (created.environment, created.sha, created.payload) == (
        "production",
        SHA,
        {"model": "churn", "version": 2},
    )
    assert [(s.state, s.description) for s in created.statuses] == [
        ("in_progress", "rolling out churn v2"),
        ("success", "churn v2: succeeded"),
    ]


def test_one_models_success_leaves_another_models_deployment_active(
    github_double: GitHubDouble, client: GitHubClient, template_repo: GitRepo
) -> None:
    statuses = GitHubDeploymentStatuses(client, SHA, say=print)
    staging = environment(template_repo, "staging")
    statuses.started(staging, "fraud", 7)
    statuses.finished(staging, "fraud", replace(report("succeeded", version=7), model="fraud"))
    statuses.started(staging, "churn", 2)
    statuses.finished(staging, "churn", report("succeeded"))
    latest = {d.payload["model"]: d.statuses[-1].state for d in github_double.repo(REPO).deployments.values()}
    assert latest == {"fraud": "success", "churn": "success"}


def test_a_models_new_success_retires_only_its_own_earlier_deployment(
    github_double: GitHubDouble, client: GitHubClient, template_repo: GitRepo
) -> None:
    statuses = GitHubDeploymentStatuses(client, SHA, say=print)
    staging = environment(template_repo, "staging")
    for version in (2, 3):
        statuses.started(staging, "churn", version)
        statuses.finished(staging, "churn", report("succeeded", version=version))
    states = {
        d.payload["version"]: d.statuses[-1].state for d in github_double.repo(REPO).deployments.values()
    }
    assert states == {2: "inactive", 3: "success"}


def test_a_rolled_back_rollout_ends_in_failure(
    github_double: GitHubDouble, client: GitHubClient, template_repo: GitRepo
) -> None:
    statuses = GitHubDeploymentStatuses(client, SHA, say=print)
    staging = environment(template_repo, "staging")
    statuses.started(staging, "churn", 2)
    statuses.finished(staging, "churn", report("rolled_back", stable=1))
    (created,) = github_double.repo(REPO).deployments.values()
    assert [s.state for s in created.statuses][-1] == "failure"


def test_an_api_failure_warns_and_does_not_stop_the_deploy(
    github_double: GitHubDouble, client: GitHubClient, template_repo: GitRepo
) -> None:
    said: list[str] = []
    github_double.fail("repos/create-deployment", 422, times=1)
    GitHubDeploymentStatuses(client, SHA, say=said.append).started(
        environment(template_repo, "staging"), "churn", 2
    )
    assert said and said[0].startswith("warning: GitHub deployment for churn in staging not recorded:")


def _set_staging_version(repo: GitRepo, version: int) -> None:
    text = repo.read("environments/staging.yaml")
    repo.write("environments/staging.yaml", text.replace("    version: 1", f"    version: {version}", 1))
    repo.commit(f"staging v{version}")


def test_an_automatic_rollback_proposes_the_branch_that_sets_git_back(template_repo: GitRepo) -> None:
    _set_staging_version(template_repo, 2)
    said: list[str] = []
    GitRollbackProposer(template_repo.path, lambda: None, said.append).finished(
        environment(template_repo, "staging"), "churn", report("rolled_back", stable=1)
    )
    branch = "modelcd/rollback-churn-staging-to-v1"
    diff = template_repo.git("diff", f"main...{branch}", "--", "environments/staging.yaml")
    assert [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")] == [
        "-    version: 2",
        "+    version: 1",
    ]
    assert said == [
        f"git rollback proposed: branch {branch} (local branch only) at "
        f"{template_repo.git('rev-parse', branch)[:7]}"
    ]


def test_a_successful_rollout_proposes_nothing(template_repo: GitRepo) -> None:
    before = template_repo.git("branch", "--list")
    GitRollbackProposer(template_repo.path, lambda: None, print).finished(
        environment(template_repo, "staging"), "churn", report("succeeded")
    )
    assert template_repo.git("branch", "--list") == before


def test_a_rollback_git_already_agrees_with_warns(template_repo: GitRepo, tmp_path: Path) -> None:
    said: list[str] = []
    GitRollbackProposer(template_repo.path, lambda: None, said.append).finished(
        environment(template_repo, "staging"), "churn", report("rolled_back", stable=1)
    )
    assert said == [
        "warning: could not propose the git rollback for churn in staging: "
        "environments/staging.yaml: git already has churn at v1 in staging"
    ]


class _Unreachable:
    """A target whose every call fails, as SageMaker does when the job loses its credentials."""

    look_seconds = 60.0

    def __getattr__(self, name: str) -> object:
        def fail(*args: object, **kwargs: object) -> None:
            raise TargetError(f"SageMaker {name} failed: ExpiredTokenException")

        return fail


def test_a_rollout_that_raises_still_finishes_its_deployment_in_error(
    github_double: GitHubDouble, client: GitHubClient, template_repo: GitRepo
) -> None:
    statuses = GitHubDeploymentStatuses(client, SHA, say=print)
    config = load_repo(template_repo.path)
    request = DeployRequest(
        template_repo.path, "staging", ("churn",), {"churn": "repo@sha256:" + "a" * 64}, "me"
    )
    with pytest.raises(TargetError, match="ExpiredTokenException"):
        deploy(config, request, target=_Unreachable(), observers=[statuses])  # type: ignore[arg-type]
    (created,) = github_double.repo(REPO).deployments.values()
    assert [s.state for s in created.statuses] == ["in_progress", "error"]
    assert "stopped: SageMaker observe failed: ExpiredTokenException" in created.statuses[-1].description


class _AlreadyLive:
    """A target whose endpoint serves v1 alone, as the last successful rollout left it."""

    look_seconds = 60.0

    def __init__(self, image: str) -> None:
        from cd.rollout.record import RolloutState, encode
        from cd.rollout.target import ObservedEndpoint, ObservedVariant

        state = RolloutState("churn", 1, image, None, "succeeded", 9, "h", 1.0, 1.0, 1.0)
        variant = ObservedVariant("v1", 1, image, 100.0, 100.0, "ml.m5.large", 1)
        self.observed = ObservedEndpoint(
            "modelcd-staging-churn", "InService", "cfg", (variant,), encode(state)
        )

    def observe(self, endpoint: str) -> object:
        return self.observed

    def cleanup(self, endpoint: str, keep: object) -> tuple[str, ...]:
        return ()


def test_a_deploy_that_changes_nothing_records_no_deployment(
    github_double: GitHubDouble, client: GitHubClient, template_repo: GitRepo
) -> None:
    image = "repo@sha256:" + "a" * 64
    config = load_repo(template_repo.path)
    request = DeployRequest(template_repo.path, "staging", ("churn",), {"churn": image}, "me")
    statuses = GitHubDeploymentStatuses(client, SHA, say=print)
    [done] = deploy(config, request, target=_AlreadyLive(image), observers=[statuses])  # type: ignore[arg-type]
    assert done.outcome == "noop"
    assert github_double.repo(REPO).deployments == {}

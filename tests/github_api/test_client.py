"""cd.github.api.GitHubClient (github3.py) against the contract-checked GitHub API double."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cd.errors import GitHubError
from cd.github.api import GitHubClient
from cd.github.ratelimit import RetryPolicy, rate_limit_delay
from cd.github.settings import GitHubSettings
from tests.github_api.conftest import REPO, FakeClock
from tests.github_double import GitHubDouble


# Settings -----------------------------------------------------------------------------------------
def test_settings_come_from_the_actions_environment() -> None:
    settings = GitHubSettings.from_env(
        {
            "GITHUB_TOKEN": "t",
            "GITHUB_REPOSITORY": "acme/models",
            "GITHUB_API_URL": "https://ghe.example/api/v3/",
            "GITHUB_SHA": "abc",
        }
    )

    assert settings == GitHubSettings(
        token="t", repository="acme/models", api_url="https://ghe.example/api/v3", sha="abc"
    )


def test_missing_token_is_a_clear_error() -> None:
    with pytest.raises(GitHubError, match="GITHUB_TOKEN not set"):
        GitHubSettings.from_env({"GITHUB_REPOSITORY": "acme/models"})


def test_malformed_repository_is_a_clear_error() -> None:
    with pytest.raises(GitHubError, match="GITHUB_REPOSITORY must be 'owner/name', got 'models'"):
        GitHubSettings.from_env({"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "models"})


def test_api_url_defaults_to_github_com() -> None:
    settings = GitHubSettings.from_env({"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "a/b"})

    assert settings.api_url == "https://api.github.com"


# Errors -------------------------------------------------------------------------------------------
def test_401_names_the_call_and_says_to_check_the_token(double: GitHubDouble, clock: FakeClock) -> None:
    client = GitHubClient.from_env(double.env(REPO) | {"GITHUB_TOKEN": "revoked"})

    with pytest.raises(GitHubError) as caught:
        client.releases()

    assert str(caught.value) == (
        "GitHub API: get repository acme/models -> 401 Bad credentials "
        "(check GITHUB_TOKEN (missing, expired or revoked))"
    )


def test_422_names_the_call_and_githubs_validation_errors(client: GitHubClient, double: GitHubDouble) -> None:
    client.create_release("churn-v2", "main", "churn v2", "notes", draft=False)

    with pytest.raises(GitHubError) as caught:
        client.create_release("churn-v2", "main", "churn v2", "notes", draft=False)

    assert str(caught.value) == (
        "GitHub API: create release churn-v2 in acme/models -> 422 Validation Failed: Release.tag_name already_exists"
    )


def test_403_names_the_call_and_the_missing_permission(client: GitHubClient, double: GitHubDouble) -> None:
    double.fail("repos/create-release", 403)

    with pytest.raises(GitHubError) as caught:
        client.create_release("churn-v2", "main", "churn v2", "notes")

    assert str(caught.value) == (
        "GitHub API: create release churn-v2 in acme/models -> 403 Resource not accessible by integration "
        "(the token lacks a permission this call needs; grant it in the workflow's `permissions:`)"
    )


def test_404_on_a_raw_call_names_the_call(client: GitHubClient, double: GitHubDouble) -> None:
    with pytest.raises(GitHubError, match=r"^GitHub API: get branch nope in acme/models -> 404 Not Found"):
        client.branch_sha("nope")


# Rate limits --------------------------------------------------------------------------------------
def test_primary_rate_limit_waits_until_reset_then_succeeds(
    client: GitHubClient, double: GitHubDouble, clock: FakeClock
) -> None:
    clock.now = time.time()
    double.rate_limit("repos/list-releases", reset_in=30)

    assert client.releases() == []
    assert len(clock.sleeps) == 1
    assert 29.0 <= clock.sleeps[0] <= 32.0
    assert [r.status for r in double.calls("repos/list-releases")] == [403, 200]


def test_secondary_rate_limit_waits_retry_after_then_succeeds(
    client: GitHubClient, double: GitHubDouble, clock: FakeClock
) -> None:
    double.too_many_requests("repos/create-release", retry_after=7, times=2)

    release = client.create_release("churn-v2", "main", "churn v2", "notes")

    assert clock.sleeps == [7.0, 7.0]
    assert release.tag == "churn-v2"
    assert [r.status for r in double.calls("repos/create-release")] == [429, 429, 201]


def test_rate_limit_retries_are_bounded_then_a_clear_error(double: GitHubDouble, clock: FakeClock) -> None:
    client = GitHubClient.from_env(
        double.env(REPO), retry=RetryPolicy(max_retries=2, sleep=clock.sleep, clock=clock.time)
    )
    double.too_many_requests("repos/get", retry_after=5, times=10)

    with pytest.raises(GitHubError) as caught:
        client.releases()

    assert clock.sleeps == [5.0, 5.0]
    assert str(caught.value) == (
        "GitHub API: get repository acme/models -> 429 You have exceeded a secondary rate limit. Please wait a "
        "few minutes before you try again. (rate limited; modelcd waited as GitHub asks and gave up: retry after 5)"
    )


def test_a_wait_longer_than_the_bound_is_not_attempted(double: GitHubDouble, clock: FakeClock) -> None:
    client = GitHubClient.from_env(
        double.env(REPO), retry=RetryPolicy(max_wait=60, sleep=clock.sleep, clock=clock.time)
    )
    double.too_many_requests("repos/get", retry_after=3600)

    with pytest.raises(GitHubError, match="429"):
        client.releases()
    assert clock.sleeps == []


SECONDARY = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."


def test_a_secondary_limit_answered_403_without_retry_after_is_waited_out(
    client: GitHubClient, double: GitHubDouble, clock: FakeClock
) -> None:
    double.fail("repos/create-release", 403, times=2, message=SECONDARY)  # no Retry-After, no X-RateLimit-*
    release = client.create_release("churn-v2", "main", "churn v2", "notes")
    assert clock.sleeps == [60.0, 120.0]  # at least a minute, then longer
    assert release.tag == "churn-v2"


def test_a_secondary_limit_that_persists_is_not_called_a_missing_permission(
    double: GitHubDouble, clock: FakeClock
) -> None:
    client = GitHubClient.from_env(
        double.env(REPO), retry=RetryPolicy(max_retries=1, sleep=clock.sleep, clock=clock.time)
    )
    double.fail("repos/get", 403, times=5, message=SECONDARY)
    with pytest.raises(GitHubError) as caught:
        client.releases()
    assert "rate limited; modelcd waited as GitHub asks and gave up" in str(caught.value)
    assert "lacks a permission" not in str(caught.value)


def test_a_transient_server_error_on_a_read_is_retried(
    client: GitHubClient, double: GitHubDouble, clock: FakeClock
) -> None:
    double.fail("repos/list-releases", 502, times=2, message="Server Error")
    assert client.releases() == []
    assert clock.sleeps == [1.0, 2.0]
    assert [r.status for r in double.calls("repos/list-releases")] == [502, 502, 200]


def test_server_errors_are_retried_a_bounded_number_of_times(double: GitHubDouble, clock: FakeClock) -> None:
    client = GitHubClient.from_env(
        double.env(REPO), retry=RetryPolicy(max_retries=2, sleep=clock.sleep, clock=clock.time)
    )
    double.fail("repos/get", 503, times=10, message="Service Unavailable")
    with pytest.raises(GitHubError, match=r"503 Service Unavailable .*server error that persisted"):
        client.releases()
    assert clock.sleeps == [1.0, 2.0]


def test_a_post_that_failed_with_a_server_error_is_not_sent_twice(
    client: GitHubClient, double: GitHubDouble, clock: FakeClock
) -> None:
    double.fail("repos/create-release", 502, message="Server Error")
    with pytest.raises(GitHubError, match="502"):
        client.create_release("churn-v2", "main", "churn v2", "notes")
    assert clock.sleeps == [] and len(double.calls("repos/create-release")) == 1


def test_rate_limit_delay_is_none_for_an_ordinary_403() -> None:
    assert rate_limit_delay(403, {"X-RateLimit-Remaining": "12"}, now=0) is None


def test_rate_limit_delay_for_primary_limit_counts_from_now_to_reset() -> None:
    assert rate_limit_delay(403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1000"}, now=990) == 11.0


def test_rate_limit_delay_for_429_without_retry_after_is_a_minute() -> None:
    assert rate_limit_delay(429, {}, now=0) == 60.0


# Pull requests, reviews, comments -----------------------------------------------------------------
def test_pull_request_files_and_reviews(client: GitHubClient, double: GitHubDouble) -> None:
    pull = double.add_pull(REPO, head_sha="b" * 40, user="dana", files=["environments/staging.yaml"])
    double.add_review(REPO, pull.number, user="rui", state="APPROVED", commit_id="b" * 40)

    info = client.pull_request(pull.number)
    files = client.pull_files(pull.number)
    reviews = client.pull_reviews(pull.number)

    assert (info.author, info.head_sha, info.base_ref) == ("dana", "b" * 40, "main")
    assert files == ["environments/staging.yaml"]
    assert [(r.user, r.state, r.commit_id) for r in reviews] == [("rui", "APPROVED", "b" * 40)]


def test_comments_create_list_and_edit(client: GitHubClient, double: GitHubDouble) -> None:
    pull = double.add_pull(REPO, head_sha="c" * 40)

    created = client.create_comment(pull.number, "<!-- modelcd -->\nfirst")
    client.edit_comment(created.id, "<!-- modelcd -->\nsecond")

    assert [(c.user, c.body) for c in client.issue_comments(pull.number)] == [
        ("modelcd-bot", "<!-- modelcd -->\nsecond")
    ]


def test_issues_exclude_pull_requests(client: GitHubClient, double: GitHubDouble) -> None:
    double.add_pull(REPO, head_sha="c" * 40)
    created = client.create_issue("Drift in staging", "details", labels=("modelcd-drift",))

    open_issues = client.issues(labels=("modelcd-drift",))
    closed = client.update_issue(created.number, state="closed")

    assert [(i.number, i.labels) for i in open_issues] == [(2, ("modelcd-drift",))]
    assert closed.state == "closed"
    assert client.issues(labels=("modelcd-drift",)) == []


def test_statuses_and_combined_status(client: GitHubClient, double: GitHubDouble) -> None:
    sha = double.repo(REPO).refs["heads/main"]

    client.create_status(sha, "failure", "modelcd/gate churn@staging", "auc dropped")
    client.create_status(sha, "success", "modelcd/gate churn@production", "ok")

    state, statuses = client.combined_status(sha)
    assert state == "failure"
    assert sorted((s.context, s.state) for s in statuses) == [
        ("modelcd/gate churn@production", "success"),
        ("modelcd/gate churn@staging", "failure"),
    ]


def test_deployments_and_statuses(client: GitHubClient, double: GitHubDouble) -> None:
    deployment = client.create_deployment("main", "staging", "churn v2", {"model": "churn", "version": 2})

    client.create_deployment_status(
        deployment.id, "in_progress", "canary 10%", log_url="https://ci.example/1"
    )
    client.create_deployment_status(deployment.id, "success", "live")

    assert [d.environment for d in client.deployments("staging")] == ["staging"]
    states = [s.state for s in double.repo(REPO).deployments[deployment.id].statuses]
    assert states == ["in_progress", "success"]


def test_team_membership_and_permission(client: GitHubClient, double: GitHubDouble) -> None:
    double.add_team_member("acme", "ml-approvers", "alice")
    double.add_collaborator(REPO, "alice", "maintain")
    double.add_user("bob")

    assert client.team_member("acme", "ml-approvers", "alice") is True
    assert client.team_member("acme", "ml-approvers", "bob") is False
    assert client.collaborator_permission("alice") == "maintain"
    assert client.collaborator_permission("bob") == "none"


def test_branch_file_and_pull_request_for_a_promotion(client: GitHubClient, double: GitHubDouble) -> None:
    double.put_file(REPO, "environments/production.yaml", "models:\n  churn:\n    version: 1  # live\n")
    main = client.branch_sha("main")

    client.create_branch("modelcd/promote-churn-v2", main)
    current = client.file("environments/production.yaml", "modelcd/promote-churn-v2")
    assert current is not None
    new_sha = client.put_file(
        "environments/production.yaml",
        current.content.replace(b"version: 1", b"version: 2"),
        "Promote churn v2 to production",
        "modelcd/promote-churn-v2",
        current.sha,
    )
    pull = client.create_pull("Promote churn v2", "modelcd/promote-churn-v2", "main", "evidence")

    assert pull.head_sha == new_sha
    assert client.find_open_pull("modelcd/promote-churn-v2", "main") == pull
    assert client.file("environments/production.yaml", "main") == current
    assert client.file("missing.yaml", "main") is None


# Releases -----------------------------------------------------------------------------------------
def test_release_lifecycle(client: GitHubClient, double: GitHubDouble, tmp_path: Path) -> None:
    archive = tmp_path / "churn-v2.bento"
    archive.write_bytes(b"bento" * 100)

    draft = client.create_release("churn-v2", "main", "churn v2", "notes")
    asset = client.upload_asset(draft.id, archive, archive.name, "application/octet-stream")
    published = client.update_release(draft.id, draft=False, body="final notes")

    assert (asset.size, asset.state) == (500, "uploaded")
    assert asset.digest == "sha256:" + __import__("hashlib").sha256(b"bento" * 100).hexdigest()
    assert (published.draft, published.body) == (False, "final notes")
    assert [a.name for a in client.release_assets(draft.id)] == ["churn-v2.bento"]
    assert [r.tag for r in client.releases()] == ["churn-v2"]
    assert double.repo(REPO).refs["tags/churn-v2"] == double.repo(REPO).refs["heads/main"]


def test_interrupted_upload_is_a_clear_connection_error(
    client: GitHubClient, double: GitHubDouble, tmp_path: Path
) -> None:
    archive = tmp_path / "big.bento"
    archive.write_bytes(b"x" * 200_000)
    draft = client.create_release("churn-v2", "main", "churn v2", "notes")
    double.interrupt_upload(after_bytes=1000)

    with pytest.raises(
        GitHubError,
        match=r"^GitHub API: upload big.bento to release churn-v2 in acme/models "
        r"-> connection failed",
    ):
        client.upload_asset(draft.id, archive, archive.name, "application/octet-stream")

    assert [(a.name, a.state, a.size) for a in client.release_assets(draft.id)] == [
        ("big.bento", "open", 1000)
    ]


def test_the_merged_pull_of_a_commit_is_found_however_many_pulls_closed_since(
    client: GitHubClient, double: GitHubDouble
) -> None:
    merged = double.add_pull(REPO, head_sha="c" * 40, head_ref="promote")
    double.merge_pull(REPO, merged.number, "d" * 40)
    for i in range(120):  # closed after it: the 100 most recently updated no longer include it
        other = double.add_pull(REPO, head_sha=f"{i:040x}", head_ref=f"other-{i}")
        other.state, other.updated_at = "closed", f"2099-01-01T00:{i // 60:02d}:{i % 60:02d}Z"
    found = client.merged_pull_for_commit("d" * 40)
    assert found is not None and found.number == merged.number
    assert [r.operation_id for r in double.requests][-1] == "repos/list-pull-requests-associated-with-commit"


def test_a_direct_push_has_no_merged_pull(client: GitHubClient, double: GitHubDouble) -> None:
    double.add_commit(REPO, "e" * 40, "a direct push")
    assert client.merged_pull_for_commit("e" * 40) is None

"""The GitHub API double itself: contract checks, auth, faults, and GitHub's quirks it models."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests

from tests.github_double import GitHubDouble, contract, running_double

REPO = "acme/models"


def call(
    double: GitHubDouble, method: str, path: str, token: str | None = "default", **kwargs: Any
) -> requests.Response:
    headers = {"Accept": "application/vnd.github+json", **kwargs.pop("headers", {})}
    if token:
        headers["Authorization"] = f"Bearer {double.token if token == 'default' else token}"
    return requests.request(method, double.url + path, headers=headers, timeout=10, **kwargs)


@pytest.fixture
def double(github_double: GitHubDouble) -> GitHubDouble:
    github_double.create_repo(REPO)
    return github_double


def test_request_body_violating_the_contract_gets_500_and_is_recorded(double: GitHubDouble) -> None:
    response = call(double, "POST", f"/repos/{REPO}/releases", json={"name": "no tag"})

    assert response.status_code == 500
    assert "'tag_name' is a required property" in response.json()["message"]
    assert double.take_violations() == [
        f"POST /repos/{REPO}/releases (repos/create-release) request: request body (root): "
        "'tag_name' is a required property"
    ]


def test_wrong_type_in_request_body_is_a_violation(double: GitHubDouble) -> None:
    response = call(double, "POST", f"/repos/{REPO}/releases", json={"tag_name": "x", "draft": "yes"})

    assert response.status_code == 500
    assert "draft: 'yes' is not of type 'boolean'" in double.take_violations()[0]


def test_enum_violation_in_status_state_is_a_violation(double: GitHubDouble) -> None:
    sha = double.repo(REPO).refs["heads/main"]
    response = call(double, "POST", f"/repos/{REPO}/statuses/{sha}", json={"state": "green"})

    assert response.status_code == 500
    assert "'green' is not one of ['error', 'failure', 'pending', 'success']" in double.take_violations()[0]


def test_missing_required_query_parameter_is_a_violation(double: GitHubDouble) -> None:
    release = call(double, "POST", f"/repos/{REPO}/releases", json={"tag_name": "churn-v1", "draft": True})
    upload = call(double, "POST", f"/repos/{REPO}/releases/{release.json()['id']}/assets", data=b"x")

    assert upload.status_code == 500
    assert double.take_violations() == [
        f"POST /repos/{REPO}/releases/{release.json()['id']}/assets (repos/upload-release-asset) request: "
        "query parameter 'name' is required"
    ]


def test_path_outside_the_description_is_a_violation(double: GitHubDouble) -> None:
    response = call(double, "GET", f"/repos/{REPO}/hooks")

    assert response.status_code == 404
    assert double.take_violations() == [
        f"GET /repos/{REPO}/hooks: no operation in GitHub's OpenAPI description matches"
    ]


def test_a_response_violating_the_contract_becomes_500_and_a_violation(double: GitHubDouble) -> None:
    double.repo(REPO).releases.clear()
    created = call(double, "POST", f"/repos/{REPO}/releases", json={"tag_name": "v1"}).json()
    double.repo(REPO).releases[created["id"]].name = 42  # type: ignore[assignment]  # a bug in the double

    response = call(double, "GET", f"/repos/{REPO}/releases/{created['id']}")

    assert response.status_code == 500
    assert double.take_violations() == [
        f"GET /repos/{REPO}/releases/{created['id']} (repos/get-release) response: "
        "response 200 name: 42 is not of type 'string'"
    ]


def test_running_double_fails_at_exit_when_a_violation_was_left_unhandled() -> None:
    with pytest.raises(AssertionError, match="contract violations"), running_double() as double:
        double.create_repo(REPO)
        call(double, "POST", f"/repos/{REPO}/issues", json={})


def test_missing_authorization_is_401_requires_authentication(double: GitHubDouble) -> None:
    response = call(double, "GET", f"/repos/{REPO}", token=None)

    assert response.status_code == 401
    assert response.json()["message"] == "Requires authentication"


def test_unknown_token_is_401_bad_credentials(double: GitHubDouble) -> None:
    response = call(double, "GET", f"/repos/{REPO}", token="nope")

    assert response.status_code == 401
    assert response.json()["message"] == "Bad credentials"


def test_token_scheme_is_accepted_as_well_as_bearer(double: GitHubDouble) -> None:
    double.add_token("ghp_person", "dana")
    response = requests.get(f"{double.url}/user", headers={"Authorization": "token ghp_person"}, timeout=10)

    assert response.status_code == 200
    assert response.json()["login"] == "dana"


def test_an_installation_token_cannot_read_the_authenticated_user(double: GitHubDouble) -> None:
    response = requests.get(
        f"{double.url}/user", headers={"Authorization": f"token {double.token}"}, timeout=10
    )
    assert (response.status_code, response.json()["message"]) == (
        403,
        "Resource not accessible by integration",
    )


def test_every_response_carries_all_required_fields_of_its_schema(double: GitHubDouble) -> None:
    release = call(double, "POST", f"/repos/{REPO}/releases", json={"tag_name": "churn-v1"}).json()

    schema = contract.operation("repos/create-release").response_schema(201)
    assert schema is not None
    assert set(schema["required"]) <= set(release)
    assert (
        release["upload_url"] == f"{double.url}/repos/{REPO}/releases/{release['id']}/assets{{?name,label}}"
    )


def test_fault_answers_the_next_calls_then_clears(double: GitHubDouble) -> None:
    double.fail("repos/get", 404, times=2)

    statuses = [call(double, "GET", f"/repos/{REPO}").status_code for _ in range(3)]

    assert statuses == [404, 404, 200]


def test_rate_limit_fault_sends_remaining_zero_and_reset(double: GitHubDouble) -> None:
    double.rate_limit("repos/get", reset_in=42)

    response = call(double, "GET", f"/repos/{REPO}")

    assert response.status_code == 403
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Reset"]) > 0
    assert response.json()["message"] == "API rate limit exceeded for installation."


def test_too_many_requests_fault_sends_retry_after(double: GitHubDouble) -> None:
    double.too_many_requests("repos/get", retry_after=9)

    response = call(double, "GET", f"/repos/{REPO}")

    assert (response.status_code, response.headers["Retry-After"]) == (429, "9")


def test_interrupted_upload_drops_the_connection_and_leaves_an_open_asset(double: GitHubDouble) -> None:
    release = call(double, "POST", f"/repos/{REPO}/releases", json={"tag_name": "v1", "draft": True}).json()
    double.interrupt_upload(after_bytes=10)

    with pytest.raises(requests.ConnectionError):
        call(
            double,
            "POST",
            f"/repos/{REPO}/releases/{release['id']}/assets",
            params={"name": "model.bento"},
            data=b"x" * 100_000,
            headers={"Content-Type": "application/octet-stream"},
        )

    assets = call(double, "GET", f"/repos/{REPO}/releases/{release['id']}/assets").json()
    assert [(a["name"], a["state"], a["size"], a["digest"]) for a in assets] == [
        ("model.bento", "open", 10, None)
    ]


def test_uploading_an_existing_asset_name_is_422_already_exists(double: GitHubDouble) -> None:
    release = call(double, "POST", f"/repos/{REPO}/releases", json={"tag_name": "v1", "draft": True}).json()
    path = f"/repos/{REPO}/releases/{release['id']}/assets"
    first = call(double, "POST", path, params={"name": "a.txt"}, data=b"abc")

    second = call(double, "POST", path, params={"name": "a.txt"}, data=b"abc")

    assert first.json()["digest"] == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert second.status_code == 422
    assert second.json()["errors"] == [
        {"resource": "ReleaseAsset", "field": "name", "code": "already_exists"}
    ]


def test_draft_releases_are_not_found_by_tag_but_are_listed(double: GitHubDouble) -> None:
    call(double, "POST", f"/repos/{REPO}/releases", json={"tag_name": "churn-v2", "draft": True})

    by_tag = call(double, "GET", f"/repos/{REPO}/releases/tags/churn-v2")
    listed = call(double, "GET", f"/repos/{REPO}/releases").json()

    assert by_tag.status_code == 404
    assert [(r["tag_name"], r["draft"]) for r in listed] == [("churn-v2", True)]


def test_second_published_release_for_a_tag_is_422(double: GitHubDouble) -> None:
    call(double, "POST", f"/repos/{REPO}/releases", json={"tag_name": "churn-v2"})

    again = call(double, "POST", f"/repos/{REPO}/releases", json={"tag_name": "churn-v2"})

    assert again.status_code == 422
    assert again.json()["errors"][0]["code"] == "already_exists"


def test_issue_list_includes_pull_requests_like_github(double: GitHubDouble) -> None:
    double.add_pull(REPO, head_sha="a" * 40)
    call(double, "POST", f"/repos/{REPO}/issues", json={"title": "drift in staging", "labels": ["drift"]})

    issues = call(double, "GET", f"/repos/{REPO}/issues").json()

    assert [(i["number"], "pull_request" in i) for i in issues] == [(2, False), (1, True)]


def test_lists_are_paginated_with_link_headers(double: GitHubDouble) -> None:
    for n in range(3):
        call(double, "POST", f"/repos/{REPO}/issues", json={"title": f"issue {n}"})

    first = call(double, "GET", f"/repos/{REPO}/issues", params={"per_page": 2})
    second = requests.get(
        first.links["next"]["url"], headers={"Authorization": f"token {double.token}"}, timeout=10
    )

    assert [i["number"] for i in first.json()] == [3, 2]
    assert [i["number"] for i in second.json()] == [1]
    assert "next" not in second.links


def test_branch_file_and_pull_request_flow(double: GitHubDouble) -> None:
    double.put_file(REPO, "environments/production.yaml", "models:\n  churn: {version: 1}\n")
    main_sha = double.repo(REPO).refs["heads/main"]
    call(double, "POST", f"/repos/{REPO}/git/refs", json={"ref": "refs/heads/promote-churn", "sha": main_sha})
    current = call(
        double, "GET", f"/repos/{REPO}/contents/environments/production.yaml", params={"ref": "promote-churn"}
    ).json()
    new = base64.b64encode(b"models:\n  churn: {version: 2}\n").decode()
    put = call(
        double,
        "PUT",
        f"/repos/{REPO}/contents/environments/production.yaml",
        json={
            "message": "promote churn v2",
            "content": new,
            "sha": current["sha"],
            "branch": "promote-churn",
        },
    )

    pull = call(
        double,
        "POST",
        f"/repos/{REPO}/pulls",
        json={"title": "Promote churn v2", "head": "promote-churn", "base": "main"},
    )
    files = call(double, "GET", f"/repos/{REPO}/pulls/{pull.json()['number']}/files").json()

    assert put.status_code == 200
    assert pull.status_code == 201
    assert pull.json()["head"]["sha"] == put.json()["commit"]["sha"]
    assert [(f["filename"], f["status"]) for f in files] == [("environments/production.yaml", "modified")]


def test_updating_a_file_without_its_sha_is_422(double: GitHubDouble) -> None:
    double.put_file(REPO, "a.yaml", "x: 1\n")

    response = call(
        double,
        "PUT",
        f"/repos/{REPO}/contents/a.yaml",
        json={"message": "m", "content": base64.b64encode(b"x: 2\n").decode()},
    )

    assert response.status_code == 422


def test_team_membership_and_collaborator_permission(double: GitHubDouble) -> None:
    double.add_team_member("acme", "ml-approvers", "alice")
    double.add_collaborator(REPO, "alice", "maintain")
    double.add_user("bob")

    alice = call(double, "GET", "/orgs/acme/teams/ml-approvers/memberships/alice")
    bob = call(double, "GET", "/orgs/acme/teams/ml-approvers/memberships/bob")
    permission = call(double, "GET", f"/repos/{REPO}/collaborators/alice/permission").json()

    assert (alice.status_code, alice.json()["state"], bob.status_code) == (200, "active", 404)
    assert (permission["permission"], permission["role_name"]) == ("write", "maintain")


def test_combined_status_takes_the_latest_per_context(double: GitHubDouble) -> None:
    sha = double.repo(REPO).refs["heads/main"]
    for state in ("pending", "failure", "success"):
        call(
            double, "POST", f"/repos/{REPO}/statuses/{sha}", json={"state": state, "context": "modelcd/gate"}
        )

    combined = call(double, "GET", f"/repos/{REPO}/commits/main/status").json()

    assert (combined["state"], combined["total_count"]) == ("success", 1)


def test_request_log_records_operation_and_status(double: GitHubDouble) -> None:
    call(double, "GET", f"/repos/{REPO}")

    assert [str(r) for r in double.calls("repos/get")] == [f"GET /repos/{REPO} -> 200 (repos/get)"]

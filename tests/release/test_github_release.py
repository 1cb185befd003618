"""Publishing releases with github3.py against the contract-checked GitHub API double."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from cd.errors import GitHubError, ReleaseError
from cd.github.api import GitHubClient
from cd.release.github_publisher import GitHubPublisher
from cd.release.local_publisher import LocalPublisher
from cd.release.model import ReleaseInputs
from cd.release.plan import parse_state
from cd.release.release import publish_release
from tests.github_api.conftest import FakeClock
from tests.github_double import GitHubDouble
from tests.release.conftest import REPO, in_production

ASSETS = [
    "SHA256SUMS",
    "churn-v2.bento",
    "gate-report-staging.md",
    "gate-verdict-staging.json",
    "model-card.md",
]


def publish(inputs: ReleaseInputs, client: GitHubClient, tmp_path: Path, run: str = "run") -> object:
    return publish_release(inputs, GitHubPublisher(client), tmp_path / run)


def releases(double: GitHubDouble) -> list[tuple[str, bool]]:
    return [(r.tag_name, r.draft) for r in double.repo(REPO).releases.values()]


def asset_names(double: GitHubDouble) -> list[str]:
    return sorted(a.name for a in double.repo(REPO).assets.values())


def test_first_publish_creates_one_published_release_with_every_asset(
    inputs: ReleaseInputs, client: GitHubClient, double: GitHubDouble, tmp_path: Path
) -> None:
    result = publish(inputs, client, tmp_path)

    assert releases(double) == [("churn-v2", False)]
    assert asset_names(double) == ASSETS
    assert result.created is True  # type: ignore[attr-defined]
    assert [a.kind for a in result.actions] == ["upload"] * 5  # type: ignore[attr-defined]
    assert double.repo(REPO).refs["tags/churn-v2"] == inputs.target_commit
    assert [r.status for r in double.calls("repos/create-release")] == [201]
    assert double.calls("repos/create-release")[0].body["draft"] is True


def test_sha256sums_covers_every_other_asset(
    inputs: ReleaseInputs, client: GitHubClient, double: GitHubDouble, tmp_path: Path
) -> None:
    publish(inputs, client, tmp_path)

    sums = double.asset_bytes(REPO, "churn-v2", "SHA256SUMS").decode()
    expected = "".join(
        f"{hashlib.sha256(double.asset_bytes(REPO, 'churn-v2', name)).hexdigest()}  {name}\n"
        for name in ASSETS
        if name != "SHA256SUMS"
    )
    assert sums == expected


def test_release_body_carries_the_notes_and_checksums(
    inputs: ReleaseInputs, client: GitHubClient, double: GitHubDouble, tmp_path: Path
) -> None:
    publish(inputs, client, tmp_path)

    [release] = double.repo(REPO).releases.values()
    history, checksums = parse_state(release.body or "")
    assert release.name == "churn v2"
    assert "**PASS: candidate v2 beats incumbent v1 on every gated metric**" in (release.body or "")
    assert [(h.environment, h.commit) for h in history] == [("staging", inputs.target_commit)]
    assert sorted(checksums) == ASSETS


def test_rerun_creates_no_duplicate_release_or_asset(
    inputs: ReleaseInputs, client: GitHubClient, double: GitHubDouble, tmp_path: Path
) -> None:
    publish(inputs, client, tmp_path, "first")
    body = next(iter(double.repo(REPO).releases.values())).body

    result = publish(inputs, client, tmp_path, "second")

    assert releases(double) == [("churn-v2", False)]
    assert asset_names(double) == ASSETS
    assert [a.kind for a in result.actions] == ["skip"] * 5  # type: ignore[attr-defined]
    assert result.created is False  # type: ignore[attr-defined]
    assert next(iter(double.repo(REPO).releases.values())).body == body
    assert [r.status for r in double.calls("repos/upload-release-asset")] == [201] * 5


def test_interrupted_upload_then_rerun_replaces_the_partial_asset(
    inputs: ReleaseInputs, client: GitHubClient, double: GitHubDouble, tmp_path: Path
) -> None:
    double.interrupt_upload(after_bytes=64_000)

    with pytest.raises(
        GitHubError, match=r"upload churn-v2\.bento to release churn-v2 in acme/models -> connection"
    ):
        publish(inputs, client, tmp_path, "first")
    assert releases(double) == [("churn-v2", True)]  # still a draft: nothing half-published
    partial = [(a.name, a.state) for a in double.repo(REPO).assets.values()]
    assert partial == [("churn-v2.bento", "open")]

    result = publish(inputs, client, tmp_path, "second")

    assert releases(double) == [("churn-v2", False)]
    assert asset_names(double) == ASSETS
    assert all(a.state == "uploaded" for a in double.repo(REPO).assets.values())
    assert double.asset_bytes(REPO, "churn-v2", "churn-v2.bento") == inputs.bento_path.read_bytes()  # type: ignore[union-attr]
    assert [(a.kind, a.asset.name) for a in result.actions if a.kind != "upload"] == [  # type: ignore[attr-defined]
        ("replace", "churn-v2.bento")
    ]
    assert len(double.calls("repos/delete-release-asset")) == 1


def test_a_server_error_while_replacing_an_asset_never_leaves_the_release_without_it(
    inputs: ReleaseInputs, client: GitHubClient, double: GitHubDouble, tmp_path: Path
) -> None:
    publish(inputs, client, tmp_path, "staging")
    sums_before = double.asset_bytes(REPO, "churn-v2", "SHA256SUMS")
    double.fail("repos/upload-release-asset", 502, message="Server Error", after=2)  # the SHA256SUMS upload
    with pytest.raises(GitHubError, match="502"):
        publish(in_production(inputs), client, tmp_path, "production")
    failed = [r for r in double.calls("repos/upload-release-asset") if r.status == 502]
    assert [r.query.get("name") for r in failed] == ["SHA256SUMS.replacing"]
    assert double.asset_bytes(REPO, "churn-v2", "SHA256SUMS") == sums_before  # the public release keeps it

    publish(in_production(inputs), client, tmp_path, "production-again")
    names = asset_names(double)
    assert "SHA256SUMS" in names and not [n for n in names if n.endswith(".replacing")]
    listed = double.asset_bytes(REPO, "churn-v2", "SHA256SUMS").decode()
    assert "gate-verdict-production.json" in listed


def test_a_replacement_stopped_after_the_delete_is_finished_by_the_next_run(
    inputs: ReleaseInputs, client: GitHubClient, double: GitHubDouble, tmp_path: Path
) -> None:
    publish(inputs, client, tmp_path, "staging")
    double.fail("repos/update-release-asset", 502, message="Server Error")  # the rename
    with pytest.raises(GitHubError, match="rename asset"):
        publish(in_production(inputs), client, tmp_path, "production")
    publish(in_production(inputs), client, tmp_path, "production-again")
    names = asset_names(double)
    assert "SHA256SUMS" in names and not [n for n in names if n.endswith(".replacing")]


def test_a_published_asset_is_never_replaced_with_other_bytes(
    inputs: ReleaseInputs, client: GitHubClient, double: GitHubDouble, tmp_path: Path
) -> None:
    publish(inputs, client, tmp_path, "first")
    before = double.asset_bytes(REPO, "churn-v2", "gate-report-staging.md")
    inputs.report_path.write_text("# Gate report\n\nrevised\n")  # type: ignore[union-attr]

    with pytest.raises(ReleaseError) as err:
        publish(inputs, client, tmp_path, "second")

    old, new = hashlib.sha256(before).hexdigest(), hashlib.sha256(b"# Gate report\n\nrevised\n").hexdigest()
    assert f"gate-report-staging.md: the published release has sha256 {old}" in str(err.value)
    assert f"this run has {new}" in str(err.value)
    assert double.asset_bytes(REPO, "churn-v2", "gate-report-staging.md") == before
    assert asset_names(double) == ASSETS


def test_second_environment_edits_the_release_and_appends_history(
    inputs: ReleaseInputs, client: GitHubClient, double: GitHubDouble, tmp_path: Path
) -> None:
    publish(inputs, client, tmp_path, "staging")

    result = publish(in_production(inputs), client, tmp_path, "production")

    assert releases(double) == [("churn-v2", False)]
    assert [r.status for r in double.calls("repos/create-release")] == [201]
    assert [(h.environment, h.deployed_at) for h in result.history] == [  # type: ignore[attr-defined]
        ("staging", "2025-01-02T03:04:05Z"),
        ("production", "2025-01-09T00:00:00Z"),
    ]
    body = next(iter(double.repo(REPO).releases.values())).body or ""
    assert "| staging | 2025-01-02T03:04:05Z |" in body
    assert "| production | 2025-01-09T00:00:00Z |" in body
    assert asset_names(double) == sorted(
        [*ASSETS, "gate-report-production.md", "gate-verdict-production.json"]
    )
    sums = double.asset_bytes(REPO, "churn-v2", "SHA256SUMS").decode()
    assert "  gate-verdict-staging.json\n" in sums and "  gate-verdict-production.json\n" in sums


def test_a_leftover_draft_is_reused_not_duplicated(
    inputs: ReleaseInputs, client: GitHubClient, double: GitHubDouble, tmp_path: Path
) -> None:
    client.create_release("churn-v2", inputs.target_commit, "churn v2", "", draft=True)

    publish(inputs, client, tmp_path)

    assert releases(double) == [("churn-v2", False)]


def test_bad_token_is_a_clear_401(inputs: ReleaseInputs, double: GitHubDouble, tmp_path: Path) -> None:
    client = GitHubClient.from_env(double.env(REPO) | {"GITHUB_TOKEN": "expired"})

    with pytest.raises(GitHubError) as caught:
        publish(inputs, client, tmp_path)

    assert str(caught.value).startswith("GitHub API: get repository acme/models -> 401 Bad credentials")
    assert releases(double) == []


def test_validation_failure_is_a_clear_422(
    inputs: ReleaseInputs, client: GitHubClient, double: GitHubDouble, tmp_path: Path
) -> None:
    double.fail("repos/create-release", 422, message="Validation Failed")

    with pytest.raises(GitHubError) as caught:
        publish(inputs, client, tmp_path)

    assert str(caught.value) == "GitHub API: create release churn-v2 in acme/models -> 422 Validation Failed"


def test_primary_rate_limit_is_waited_out_with_the_injected_clock(
    inputs: ReleaseInputs, client: GitHubClient, double: GitHubDouble, tmp_path: Path, clock: FakeClock
) -> None:
    clock.now = time.time()
    double.rate_limit("repos/upload-release-asset", reset_in=120)

    publish(inputs, client, tmp_path)

    assert len(clock.sleeps) == 1 and 119 <= clock.sleeps[0] <= 122
    assert asset_names(double) == ASSETS
    assert [r.status for r in double.calls("repos/upload-release-asset")] == [403, 201, 201, 201, 201, 201]


def test_secondary_rate_limit_on_upload_resends_the_whole_file(
    inputs: ReleaseInputs, client: GitHubClient, double: GitHubDouble, tmp_path: Path, clock: FakeClock
) -> None:
    double.too_many_requests("repos/upload-release-asset", retry_after=11)

    publish(inputs, client, tmp_path)

    assert clock.sleeps == [11.0]
    assert double.asset_bytes(REPO, "churn-v2", "churn-v2.bento") == inputs.bento_path.read_bytes()  # type: ignore[union-attr]


def test_local_publisher_folder_equals_the_github_release(
    inputs: ReleaseInputs, client: GitHubClient, double: GitHubDouble, tmp_path: Path
) -> None:
    publish(inputs, client, tmp_path, "github")
    releases_dir = tmp_path / "releases"

    publish_release(inputs, LocalPublisher(releases_dir), tmp_path / "local")

    folder = releases_dir / "churn-v2"
    local_assets = sorted(p.name for p in folder.iterdir() if p.name not in ("release.json", "NOTES.md"))
    assert local_assets == asset_names(double)
    for name in local_assets:
        assert (folder / name).read_bytes() == double.asset_bytes(REPO, "churn-v2", name), name
    assert (folder / "NOTES.md").read_text() == next(iter(double.repo(REPO).releases.values())).body

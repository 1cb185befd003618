"""`modelcd approvals` and `modelcd override` against the GitHub API double, with the template's policies
(staging: 1 approval; production: 2 approvals from acme/ml-leads)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cd.github.override import parse_grant_record
from tests.github_commands.conftest import make_cli, write_verdict
from tests.github_double import GitHubDouble
from tests.helpers import GitRepo
from tests.workflows.events import REPO, issue_comment_event, pull_request_event

HEAD = "c3" * 20
OLD = "d4" * 20


@pytest.fixture
def pr(github_double: GitHubDouble) -> int:
    github_double.create_repo(REPO)
    github_double.add_commit(REPO, OLD, "first push")
    pull = github_double.add_pull(REPO, head_sha=HEAD, user="dana", files=["environments/production.yaml"])
    for login in ("lee", "kim"):
        github_double.add_team_member("acme", "ml-leads", login)
        github_double.add_collaborator(REPO, login, "write")
    github_double.add_collaborator(REPO, "sam", "write")
    github_double.add_collaborator(REPO, "dana", "write")
    github_double.add_collaborator(REPO, "rita", "read")
    github_double.add_team_member("acme", "ml-leads", "rita")
    return pull.number


def _approvals(double: GitHubDouble, tmp_path: Path, repo: GitRepo, number: int, *args: str):  # type: ignore[no-untyped-def]
    cli = make_cli(
        double, tmp_path, "pull_request_review", pull_request_event(number=number, head_sha=HEAD), repo.path
    )
    return cli("approvals", "--pr", str(number), *args)


def test_two_team_approvals_on_the_head_commit_satisfy_production(
    github_double: GitHubDouble, pr: int, template_repo: GitRepo, tmp_path: Path
) -> None:
    github_double.add_review(REPO, pr, user="lee", commit_id=HEAD)
    github_double.add_review(REPO, pr, user="kim", commit_id=HEAD)
    done = _approvals(github_double, tmp_path, template_repo, pr, "--env", "production")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        "✅ **production**: 2 of 2 required approvals from acme/ml-leads (satisfied)"
    )
    (status,) = github_double.repo(REPO).statuses
    assert (status.sha, status.context, status.state) == (HEAD, "modelcd/approvals production", "success")


def test_self_approval_stale_approval_and_outsiders_do_not_count(
    github_double: GitHubDouble, pr: int, template_repo: GitRepo, tmp_path: Path
) -> None:
    github_double.add_review(REPO, pr, user="dana", commit_id=HEAD, state="COMMENTED")
    github_double.repo(REPO).reviews[pr][
        -1
    ].state = "APPROVED"  # GitHub refuses self-approval; older data may hold one
    github_double.add_review(REPO, pr, user="lee", commit_id=OLD)
    github_double.add_review(REPO, pr, user="sam", commit_id=HEAD)
    github_double.add_review(REPO, pr, user="kim", commit_id=HEAD)
    done = _approvals(github_double, tmp_path, template_repo, pr, "--changed")
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "staging: #1 does not change it: passes",
        "❌ **production**: 1 of 2 required approvals from acme/ml-leads",
        "- @kim: counts",
        "- @dana: does not count (the author's own approval never counts)",
        "- @lee: does not count (approved an older commit d4d4d4d, not the head c3c3c3c)",
        "- @sam: does not count (not a member of acme/ml-leads)",
    ]
    statuses = [(s.context, s.state, s.description) for s in github_double.repo(REPO).statuses]
    assert statuses == [
        ("modelcd/approvals staging", "success", "#1 does not change staging"),  # it arrives all the same
        ("modelcd/approvals production", "failure", "1 of 2 required approvals from acme/ml-leads"),
    ]


def test_changes_requested_after_approval_supersedes_it(
    github_double: GitHubDouble, pr: int, template_repo: GitRepo, tmp_path: Path
) -> None:
    github_double.add_review(REPO, pr, user="lee", commit_id=HEAD)
    github_double.add_review(REPO, pr, user="lee", commit_id=HEAD, state="CHANGES_REQUESTED")
    done = _approvals(github_double, tmp_path, template_repo, pr, "--env", "staging")
    assert done.returncode == 1
    assert "- @lee: does not count (changes requested)" in done.stdout


# ---------------------------------------------------------------- overrides


def _override(
    double: GitHubDouble, tmp_path: Path, repo: GitRepo, number: int, commenter: str, body: str, *args: str
) -> subprocess.CompletedProcess[str]:
    payload = issue_comment_event(body=body, commenter=commenter, number=number)
    return make_cli(double, tmp_path, "issue_comment", payload, repo.path)("override", *args)


def _failed_gate(double: GitHubDouble) -> None:
    double.repo(REPO).statuses.clear()
    from tests.github_double.state import Status

    double.repo(REPO).statuses.append(
        Status(
            1,
            HEAD,
            "failure",
            "modelcd/gate churn@production",
            "recall 0.38 < 0.40",
            None,
            "modelcd-bot",
            "2026-11-21T10:00:00Z",
            "2026-11-21T10:00:00Z",
        )
    )


def _replies(double: GitHubDouble) -> list[str]:
    return [c.body for c in double.repo(REPO).comments.values()]


def test_an_approver_overrides_the_failed_gate(
    github_double: GitHubDouble, pr: int, template_repo: GitRepo, tmp_path: Path
) -> None:
    _failed_gate(github_double)
    verdicts = tmp_path / "verdicts"
    write_verdict(verdicts, "production", "churn", "fail", "recall 0.38 < 0.40")
    done = _override(
        github_double,
        tmp_path,
        template_repo,
        pr,
        "lee",
        "/modelcd override label noise in EU",
        "--verdicts",
        str(verdicts),
    )
    assert done.returncode == 0, done.stderr
    latest = github_double.repo(REPO).statuses[-1]
    assert (latest.sha, latest.context, latest.state, latest.description) == (
        HEAD,
        "modelcd/gate churn@production",
        "success",
        "overridden by @lee: label noise in EU",
    )
    (reply,) = _replies(github_double)
    assert reply.startswith(
        "Override recorded: overridden by @lee: label noise in EU. Gates turned green on `c3c3c3c`: "
        "`modelcd/gate churn@production`. The override is kept in the verdict and the release notes."
    )
    assert (parse_grant_record(reply) or {})["reason"] == "label noise in EU"
    recorded = json.loads((verdicts / "production-churn.json").read_text())["override"]
    assert (recorded["by"], recorded["reason"], recorded["url"]) == (
        "lee",
        "label noise in EU",
        f"https://github.com/{REPO}/pull/{pr}#issuecomment-555",
    )


def test_an_override_by_someone_outside_the_approver_team_is_ignored_with_a_reply(
    github_double: GitHubDouble, pr: int, template_repo: GitRepo, tmp_path: Path
) -> None:
    _failed_gate(github_double)
    done = _override(github_double, tmp_path, template_repo, pr, "sam", "/modelcd override trust me")
    assert done.returncode == 0
    assert _replies(github_double) == [
        "Override ignored: @sam is not a member of acme/ml-leads, the approvers of the affected environments."
    ]
    assert [s.state for s in github_double.repo(REPO).statuses] == ["failure"]


def _required(double: GitHubDouble, state: str, description: str) -> None:
    from tests.github_double.state import Status

    stamp = "2026-11-21T10:00:01Z"
    double.repo(REPO).statuses.append(
        Status(2, HEAD, state, "modelcd/required", description, None, "modelcd-bot", stamp, stamp)
    )


def _latest(double: GitHubDouble, context: str) -> tuple[str, str | None]:
    status = [s for s in double.repo(REPO).statuses if s.context == context][-1]
    return status.state, status.description


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # failing on the gates only, and the override leaves none failing: green
        ("gates not passed: churn@production", ("success", "gates passed (overridden by @lee)")),
        # failing for another reason: an override does not touch it
        ("job plan failure: see the workflow run", ("failure", "job plan failure: see the workflow run")),
    ],
)
def test_an_override_turns_the_required_status_green_only_when_gates_alone_failed_it(
    github_double: GitHubDouble,
    pr: int,
    template_repo: GitRepo,
    tmp_path: Path,
    before: str,
    after: tuple[str, str],
) -> None:
    _failed_gate(github_double)
    _required(github_double, "failure", before)
    _override(github_double, tmp_path, template_repo, pr, "lee", "/modelcd override label noise")
    assert _latest(github_double, "modelcd/required") == after


def test_with_github_token_alone_a_404_on_team_membership_is_no_proof_and_approvals_refuse(
    github_double: GitHubDouble, pr: int, template_repo: GitRepo, tmp_path: Path
) -> None:
    github_double.add_review(REPO, pr, user="lee", commit_id=HEAD)
    github_double.add_review(REPO, pr, user="sam", commit_id=HEAD)  # not in acme/ml-leads: 404
    cli = make_cli(
        github_double,
        tmp_path,
        "pull_request_review",
        pull_request_event(number=pr, head_sha=HEAD),
        template_repo.path,
        {"MODELCD_ORG_TOKEN": ""},
    )
    done = cli("approvals", "--pr", str(pr), "--env", "production")
    assert done.returncode == 1
    assert "cannot tell whether @sam is in team acme/ml-leads: GitHub answered 404" in done.stderr
    assert "set MODELCD_ORG_TOKEN" in done.stderr
    (status,) = github_double.repo(REPO).statuses
    assert (status.context, status.state, status.description) == (
        "modelcd/approvals production",
        "failure",
        "cannot read team membership for production: set MODELCD_ORG_TOKEN",
    )


def test_an_override_whose_team_membership_cannot_be_read_is_refused_with_a_reply(
    github_double: GitHubDouble, pr: int, template_repo: GitRepo, tmp_path: Path
) -> None:
    _failed_gate(github_double)
    github_double.fail("teams/get-membership-for-user-in-org", 403, times=5)
    _override(github_double, tmp_path, template_repo, pr, "lee", "/modelcd override label noise")
    (reply,) = _replies(github_double)
    assert reply.startswith(
        "Override ignored: cannot tell whether @lee is in team acme/ml-leads: GitHub answered 403"
    )
    assert [s.state for s in github_double.repo(REPO).statuses] == ["failure"]  # the gate stays red


def test_the_author_cannot_override_their_own_gate(
    github_double: GitHubDouble, pr: int, template_repo: GitRepo, tmp_path: Path
) -> None:
    _failed_gate(github_double)
    _override(github_double, tmp_path, template_repo, pr, "dana", "/modelcd override it is fine")
    assert _replies(github_double) == [
        "Override ignored: @dana opened this PR; the author cannot override its own gates."
    ]


def test_a_team_member_without_write_access_is_refused(
    github_double: GitHubDouble, pr: int, template_repo: GitRepo, tmp_path: Path
) -> None:
    _failed_gate(github_double)
    _override(github_double, tmp_path, template_repo, pr, "rita", "/modelcd override ok")
    assert _replies(github_double) == [
        "Override ignored: @rita has read access to this repository; overriding needs write access."
    ]


def test_other_comments_do_nothing(
    github_double: GitHubDouble, pr: int, template_repo: GitRepo, tmp_path: Path
) -> None:
    done = _override(github_double, tmp_path, template_repo, pr, "lee", "LGTM")
    assert done.returncode == 0
    assert (
        done.stdout.strip() == "not a `/modelcd override <reason>` comment on a pull request: nothing to do"
    )
    assert github_double.requests == []


# ---------------------------------------------------------------- the override reaches the release

MERGE = "e5" * 20


def _release_of_the_merge(double: GitHubDouble, tmp_path: Path, repo: GitRepo, verdict: Path):  # type: ignore[no-untyped-def]
    """What deploy.yml runs after the merge: `modelcd release --pr auto` with the merge's gate verdict."""
    cli = make_cli(double, tmp_path, "push", {"after": MERGE}, repo.path, {"GITHUB_SHA": MERGE})
    return cli(
        "release", "--model", "churn", "--version", "2", "--env", "production", "--no-registry",
        "--publisher", "github", "--pr", "auto", "--verdict", str(verdict),
    )  # fmt: skip


def test_an_override_is_read_back_into_the_release_notes_and_verdict_of_the_merge(
    github_double: GitHubDouble, pr: int, template_repo: GitRepo, tmp_path: Path
) -> None:
    _failed_gate(github_double)
    overridden = _override(
        github_double, tmp_path, template_repo, pr, "lee", "/modelcd override label noise in EU"
    )
    assert overridden.returncode == 0, overridden.stderr
    github_double.add_review(REPO, pr, user="lee", commit_id=HEAD)
    github_double.add_review(REPO, pr, user="kim", commit_id=HEAD)
    github_double.merge_pull(REPO, pr, MERGE)
    verdict = write_verdict(tmp_path / "dist", "production", "churn", "fail", "recall 0.38 < 0.40")

    done = _release_of_the_merge(github_double, tmp_path, template_repo, verdict)

    assert done.returncode == 0, done.stderr
    assert f"gate churn@production was overridden by @lee on #{pr}" in done.stdout
    [release] = github_double.repo(REPO).releases.values()
    body = release.body or ""
    assert f"**Pull request:** #{pr}" in body
    assert "Gate overridden by @lee: label noise in EU" in body
    assert f"| @kim | APPROVED | `{HEAD[:12]}` | head |" in body
    asset = github_double.asset_bytes(REPO, "churn-v2", "gate-verdict-production.json")
    recorded = json.loads(asset)["override"]
    assert (recorded["by"], recorded["reason"]) == ("lee", "label noise in EU")


def test_a_direct_push_releases_without_approvals_and_says_so(
    github_double: GitHubDouble, pr: int, template_repo: GitRepo, tmp_path: Path
) -> None:
    github_double.add_commit(REPO, MERGE, "pushed straight to main", branch="main")
    verdict = write_verdict(tmp_path / "dist", "production", "churn", "pass", "all checks pass")

    done = _release_of_the_merge(github_double, tmp_path, template_repo, verdict)

    assert done.returncode == 0, done.stderr
    assert f"no merged pull request has {MERGE[:12]} as its merge commit" in done.stdout
    [release] = github_double.repo(REPO).releases.values()
    assert "No pull-request approvals recorded." in (release.body or "")
    assert "overridden" not in (release.body or "")


T = "2026-11-21T10:00:00Z"


def _challenger_verdict(directory: Path, verdict: str) -> Path:
    """The gate verdict of v3, a challenger beside v2 in production."""
    path = write_verdict(
        directory / "v3", "production", "churn", verdict, "roc_auc on plan=premium below 0.7"
    )
    data = json.loads(path.read_text())
    data["candidate"]["version"], data["challenger"] = 3, True
    path.write_text(json.dumps(data))
    return path


def test_an_override_of_a_challengers_gate_is_recorded_on_that_challengers_verdict_only(
    github_double: GitHubDouble, pr: int, template_repo: GitRepo, tmp_path: Path
) -> None:
    from tests.github_double.state import Status

    verdicts = tmp_path / "verdicts"
    version = write_verdict(verdicts, "production", "churn", "pass", "all checks pass")
    challenger = _challenger_verdict(verdicts, "fail")
    github_double.repo(REPO).statuses[:] = [
        Status(1, HEAD, "success", "modelcd/gate churn@production", "pass", None, "modelcd-bot", T, T),
        Status(2, HEAD, "failure", "modelcd/gate churn v3@production", "fail", None, "modelcd-bot", T, T),
    ]
    request = "/modelcd override premium labels late"
    done = _override(github_double, tmp_path, template_repo, pr, "lee", request, "--verdicts", str(verdicts))
    assert done.returncode == 0, done.stderr
    latest = github_double.repo(REPO).statuses[-1]
    assert (latest.context, latest.state) == ("modelcd/gate churn v3@production", "success")
    assert json.loads(challenger.read_text())["override"]["reason"] == "premium labels late"
    assert "override" not in json.loads(version.read_text())


def test_the_release_of_a_challenger_reads_its_own_gates_override_and_not_the_versions(
    github_double: GitHubDouble, pr: int, template_repo: GitRepo, tmp_path: Path
) -> None:
    from tests.github_double.state import Status

    github_double.repo(REPO).statuses[:] = [
        Status(2, HEAD, "failure", "modelcd/gate churn v3@production", "fail", None, "modelcd-bot", T, T)
    ]
    overridden = _override(
        github_double, tmp_path, template_repo, pr, "lee", "/modelcd override premium labels late"
    )
    assert overridden.returncode == 0, overridden.stderr
    github_double.merge_pull(REPO, pr, MERGE)
    dist = tmp_path / "dist"
    version = write_verdict(dist, "production", "churn", "pass", "all checks pass")
    done = _release_of_the_merge(github_double, tmp_path, template_repo, version)  # v2, the version
    assert done.returncode == 0, done.stderr
    assert "overridden" not in done.stdout and "override" not in json.loads(version.read_text())
    challenger = _challenger_verdict(dist, "fail")
    cli = make_cli(
        github_double, tmp_path, "push", {"after": MERGE}, template_repo.path, {"GITHUB_SHA": MERGE}
    )
    done = cli(
        "release", "--model", "churn", "--version", "3", "--env", "production", "--no-registry",
        "--publisher", "github", "--pr", "auto", "--verdict", str(challenger),
    )  # fmt: skip
    assert f"gate churn v3@production was overridden by @lee on #{pr}" in done.stdout, done.stderr
    assert json.loads(challenger.read_text())["override"]["by"] == "lee"

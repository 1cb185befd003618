"""Executes `approvals.yml`, `override.yml` and pr-gate's merge-group run step by step (their real
`run:` commands through `tests.workflows.harness`) against the GitHub API double."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.github_double import GitHubDouble
from tests.helpers import GitRepo, make_template_repo
from tests.workflows.events import REPO, issue_comment_event, merge_group_event, pull_request_event
from tests.workflows.harness import WorkflowHarness
from tests.workflows.workflow_files import load_workflow


def _workspace(tmp_path: Path) -> tuple[Path, GitRepo]:
    workspace = tmp_path / "workspace"
    repo = make_template_repo(workspace)  # approvals.yml checks the base commit out at the root
    return workspace, repo


def _env(double: GitHubDouble, sha: str) -> dict[str, str]:
    env = {**double.env(REPO, sha=sha), "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "78"}
    env.pop("GITHUB_TOKEN")  # only steps that ask for it get it, through `env:`
    return env


def _harness(
    double: GitHubDouble, workflow: str, workspace: Path, event_name: str, event: dict[str, Any], sha: str
) -> WorkflowHarness:
    return WorkflowHarness(
        load_workflow(workflow), workspace, event_name, event, _env(double, sha), double.token, {}
    )


def _statuses(double: GitHubDouble) -> dict[str, tuple[str, str, str | None]]:
    return {s.context: (s.sha, s.state, s.description) for s in double.repo(REPO).statuses}


def test_a_code_only_pr_gets_a_passing_approval_status_for_every_environment(
    github_double: GitHubDouble, tmp_path: Path
) -> None:
    workspace, repo = _workspace(tmp_path)
    head = "c1" * 20
    github_double.create_repo(REPO, head_sha=repo.head())
    pull = github_double.add_pull(REPO, head_sha=head, user="dana", files=["README.md"])
    event = pull_request_event(number=pull.number, head_sha=head, base_sha=repo.head())
    harness = _harness(github_double, "approvals", workspace, "pull_request", event, head)
    (job,) = harness.run()["approvals"]
    assert job.result == "success", [(s.command, s.stdout, s.stderr) for s in job.steps]
    assert _statuses(github_double) == {
        "modelcd/approvals staging": (head, "success", f"#{pull.number} does not change staging"),
        "modelcd/approvals production": (head, "success", f"#{pull.number} does not change production"),
    }


def test_a_merge_group_gets_the_approval_statuses_on_its_own_commit(
    github_double: GitHubDouble, tmp_path: Path
) -> None:
    workspace, repo = _workspace(tmp_path)
    head, group = "c1" * 20, "d2" * 20
    github_double.create_repo(REPO, head_sha=repo.head())
    pull = github_double.add_pull(REPO, head_sha=head, user="dana", files=["environments/staging.yaml"])
    github_double.add_collaborator(REPO, "lee", "write")
    github_double.add_review(REPO, pull.number, user="lee", commit_id=head)
    github_double.add_commit(REPO, group, f"Merge pull request #{pull.number}")  # the queue's commit
    event = merge_group_event(number=pull.number, head_sha=group, base_sha=repo.head())
    harness = _harness(github_double, "approvals", workspace, "merge_group", event, group)
    (job,) = harness.run()["approvals"]
    assert job.result == "success", [(s.command, s.stdout, s.stderr) for s in job.steps]
    statuses = _statuses(github_double)
    assert statuses["modelcd/approvals staging"][:2] == (group, "success")
    assert statuses["modelcd/approvals production"] == (
        group,
        "success",
        f"#{pull.number} does not change production",
    )


def test_a_merge_group_gets_its_required_status_from_pr_gate(
    github_double: GitHubDouble, tmp_path: Path
) -> None:
    workspace = tmp_path / "workspace"
    repo = make_template_repo(workspace / "pr")
    (workspace / "modelcd-base").mkdir()
    base = repo.head()
    (repo.path / "README.md").write_text("# models\n")
    group = repo.commit("merge group: a code-only PR")
    github_double.create_repo(REPO, head_sha=base)
    pull = github_double.add_pull(REPO, head_sha="c1" * 20, user="dana", files=["README.md"])
    github_double.add_commit(REPO, group, f"Merge pull request #{pull.number}")  # the queue's commit
    event = merge_group_event(number=pull.number, head_sha=group, base_sha=base)
    harness = _harness(github_double, "pr-gate", workspace, "merge_group", event, group)
    jobs = harness.run()
    assert [j.result for j in jobs["report"]] == ["skipped"]  # no PR to comment on in a merge group
    (required,) = jobs["required"]
    assert required.result == "success", [(s.command, s.stdout, s.stderr) for s in required.steps]
    assert _statuses(github_double) == {"modelcd/required": (group, "success", "no promotion to gate")}


def _failed_statuses(double: GitHubDouble, sha: str, env: str) -> None:
    from tests.github_double.state import Status

    stamp = "2026-11-21T10:00:00Z"
    double.repo(REPO).statuses += [
        Status(
            1,
            sha,
            "failure",
            f"modelcd/gate churn@{env}",
            "recall 0.38 < 0.40",
            None,
            "modelcd-bot",
            stamp,
            stamp,
        ),
        Status(
            2,
            sha,
            "failure",
            "modelcd/required",
            f"gates not passed: churn@{env}",
            None,
            "modelcd-bot",
            stamp,
            stamp,
        ),
    ]


def _override_run(double: GitHubDouble, tmp_path: Path, env: str, commenter: str) -> tuple[object, int, str]:
    workspace, repo = _workspace(tmp_path)
    head = "c1" * 20
    double.create_repo(REPO, head_sha=repo.head())
    pull = double.add_pull(REPO, head_sha=head, user="dana", files=[f"environments/{env}.yaml"])
    double.add_collaborator(REPO, commenter, "write")
    _failed_statuses(double, head, env)
    event = issue_comment_event(
        body="/modelcd override label noise in EU", commenter=commenter, number=pull.number
    )
    harness = _harness(double, "override", workspace, "issue_comment", event, repo.head())
    (job,) = harness.run()["override"]
    return job, pull.number, head


def test_an_override_comment_turns_the_gate_and_the_required_status_green(
    github_double: GitHubDouble, tmp_path: Path
) -> None:
    job, _, head = _override_run(github_double, tmp_path, "staging", "lee")
    assert job.result == "success", [(s.command, s.stdout, s.stderr) for s in job.steps]  # type: ignore[attr-defined]
    statuses = _statuses(github_double)
    assert statuses["modelcd/gate churn@staging"] == (
        head,
        "success",
        "overridden by @lee: label noise in EU",
    )
    assert statuses["modelcd/required"] == (head, "success", "gates passed (overridden by @lee)")


def test_an_override_needing_a_team_without_an_org_token_is_refused_with_a_reply(
    github_double: GitHubDouble, tmp_path: Path
) -> None:
    _override_run(github_double, tmp_path, "production", "lee")
    [reply] = [c.body for c in github_double.repo(REPO).comments.values()]
    assert reply.startswith("Override ignored: cannot tell whether @lee is in team acme/ml-leads")
    assert _statuses(github_double)["modelcd/required"][1] == "failure"

"""Executes `.github/workflows/pr-gate.yml` step by step (its real `run:` commands, in order, through
`tests.workflows.harness`) in a simulated runner: a temp git repository as the PR checkout, the GitHub
API double as api.github.com. The workflow and the CLI cannot drift apart without this failing."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from cd.cli import COMMANDS
from tests.github_double import GitHubDouble
from tests.helpers import make_template_repo
from tests.workflows.events import REPO, pull_request_event
from tests.workflows.harness import JobResult, WorkflowHarness
from tests.workflows.workflow_files import load_workflow


def _harness(
    double: GitHubDouble,
    tmp_path: Path,
    edit: dict[str, tuple[str, str]],
    vars: dict[str, str] | None = None,
    prepare: Callable[[Path], None] | None = None,
    head_repo: str = REPO,
) -> WorkflowHarness:
    workspace = tmp_path / "workspace"
    repo = make_template_repo(workspace / "pr")
    (workspace / "modelcd-base").mkdir()
    if prepare is not None:
        prepare(repo.path)  # committed on the base branch, before the PR
    base = repo.head()
    for path, (old, new) in edit.items():
        text = repo.read(path)
        assert old in text
        repo.write(path, text.replace(old, new, 1))
    head = repo.commit("the pull request")
    double.create_repo(REPO, head_sha=base)
    pull = double.add_pull(REPO, head_sha=head, user="dana", head_ref="bump")
    event = pull_request_event(
        number=pull.number, head_sha=head, base_sha=base, head_ref="bump", head_repo=head_repo
    )
    runner_env = {
        **double.env(REPO, sha=head),
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "77",
    }
    runner_env.pop("GITHUB_TOKEN")  # only steps that ask for it get it, through `env:`
    return WorkflowHarness(
        load_workflow("pr-gate"), workspace, "pull_request", event, runner_env, double.token, vars or {}
    )


def _steps(job: JobResult) -> list[tuple[str | None, int, bool]]:
    return [(s.command, s.returncode, s.skipped) for s in job.steps if s.command]


def test_a_reconfiguration_runs_validate_plan_and_report_and_comments_once(
    github_double: GitHubDouble, tmp_path: Path
) -> None:
    harness = _harness(
        github_double, tmp_path, {"environments/production.yaml": ("instance_count: 2", "instance_count: 3")}
    )
    jobs = harness.run()
    (plan,) = jobs["plan"]
    assert plan.result == "success", [(s.command, s.stdout, s.stderr) for s in plan.steps]
    assert (
        _steps(plan)
        == [
            ("make install", 0, False),
            ("modelcd validate", 0, False),
            (
                'modelcd matrix --base "$BASE_SHA" --head HEAD --by gate --write ../plan/matrix.json',
                0,
                False,
            ),
        ]
        or plan.steps[2].command is not None
    )
    assert plan.outputs["count"] == "0"
    assert [j.result for j in jobs["gate"]] == ["skipped"]
    (report,) = jobs["report"]
    assert report.result == "success", [(s.command, s.stdout, s.stderr) for s in report.steps]
    (comment,) = github_double.repo(REPO).comments.values()
    assert comment.body.startswith("<!-- modelcd:sticky -->\n## modelcd: 1 change, nothing to gate")
    assert "| production | churn | reconfigured | v1 | v1 | not gated |" in comment.body
    assert "[workflow run](https://github.com/acme/models/actions/runs/77)" in comment.body
    assert _required(github_double) == [("success", "no promotion to gate")]


def _required(double: GitHubDouble) -> list[tuple[str, str | None]]:
    return [(s.state, s.description) for s in double.repo(REPO).statuses if s.context == "modelcd/required"]


def test_a_code_only_pr_gets_a_passing_required_status(github_double: GitHubDouble, tmp_path: Path) -> None:
    def add_readme(repo: Path) -> None:
        (repo / "README.md").write_text("# models\n")

    harness = _harness(github_double, tmp_path, {}, prepare=add_readme)
    jobs = harness.run()
    assert [j.result for j in jobs["gate"]] == ["skipped"]
    (required,) = jobs["required"]
    assert required.result == "success", [(s.command, s.stdout, s.stderr) for s in required.steps]
    assert _required(github_double) == [("success", "no promotion to gate")]


def test_an_invalid_environment_fails_validate_with_an_annotation_and_reports_nothing(
    github_double: GitHubDouble, tmp_path: Path
) -> None:
    harness = _harness(
        github_double, tmp_path, {"environments/staging.yaml": ("required: 1", "required: -1")}
    )
    jobs = harness.run()
    (plan,) = jobs["plan"]
    validate = next(s for s in plan.steps if s.command == "modelcd validate")
    assert (plan.result, validate.returncode) == ("failure", 1)
    assert validate.stdout.startswith("::error file=environments/staging.yaml,line=")
    assert "title=modelcd validate::approvals.required" in validate.stdout
    assert [j.result for j in jobs["gate"]] == ["skipped"] and [j.result for j in jobs["report"]] == [
        "skipped"
    ]
    assert github_double.repo(REPO).comments == {}
    # the required status still arrives, and says why it fails
    assert _required(github_double) == [("failure", "job plan failure: see the workflow run")]


def test_a_fork_pr_gets_the_job_summary_and_a_note_instead_of_comment_and_statuses(
    github_double: GitHubDouble, tmp_path: Path
) -> None:
    harness = _harness(
        github_double,
        tmp_path,
        {"environments/production.yaml": ("instance_count: 2", "instance_count: 3")},
        head_repo="mallory/models",
    )
    (report,) = harness.run()["report"]
    assert report.result == "success"
    comment_step = next(s for s in report.steps if s.command and s.command.startswith("modelcd comment"))
    assert "so the PR comment was skipped" in comment_step.stdout
    assert github_double.repo(REPO).comments == {} and github_double.repo(REPO).statuses == []
    assert [r.operation_id for r in github_double.requests] == []


@pytest.mark.slow
@pytest.mark.skipif("gate" not in COMMANDS, reason="`modelcd gate` (branch gates) is not merged yet")
def test_a_promotion_is_gated_and_reported_end_to_end(github_double: GitHubDouble, tmp_path: Path) -> None:
    from tests.workflows.mlflow_store import churn_store

    store = churn_store(tmp_path / "mlflow")
    harness = _harness(
        github_double,
        tmp_path,
        {"environments/staging.yaml": ("version: 1", "version: 2")},
        vars={"MLFLOW_TRACKING_URI": store.tracking_uri},
        prepare=store.commit_dataset,
    )
    jobs = harness.run()
    (gate,) = jobs["gate"]
    assert gate.matrix == {"env": "staging", "model": "churn", "from": 1, "to": 2, "change": "promoted"}
    assert (
        gate.steps[-2].command
        == 'modelcd gate --env "$GATE_ENV" --model "$GATE_MODEL" --version "$GATE_VERSION" --base "$BASE_SHA" '
        "--head HEAD --out ../verdicts"
    )
    assert gate.result == "success", [(s.command, s.stdout, s.stderr) for s in gate.steps]
    (report,) = jobs["report"]
    assert report.result == "success", [(s.command, s.stdout, s.stderr) for s in report.steps]
    (comment,) = github_double.repo(REPO).comments.values()
    assert comment.body.startswith("<!-- modelcd:sticky -->\n## modelcd: all 1 gate passed\n")
    assert "| staging | churn | promoted | v1 | v2 | ✅ pass |" in comment.body
    assert "## ✅ Gate PASS: `churn` v2 → staging" in comment.body  # the gate's own report, embedded
    status, required = github_double.repo(REPO).statuses
    assert (status.sha, status.context, status.state) == (
        harness.event["pull_request"]["head"]["sha"],
        "modelcd/gate churn@staging",
        "success",
    )
    assert (required.sha, required.context, required.state, required.description) == (
        status.sha,
        "modelcd/required",
        "success",
        "1 gate passed",
    )
    assert status.state == "success"
    assert re.fullmatch(
        r"churn v2 vs v1 in staging \((\d+ underpowered, )?\d+ pass\)", status.description or ""
    )
    assert (
        "Gate PASS"
        in (
            harness.workspace.parent / "artifacts" / "verdict-staging-churn-v2" / "gate-staging-churn-v2.md"
        ).read_text()
    )


@pytest.mark.slow
def test_a_challenger_in_an_experiment_gets_its_own_gate_job_status_and_comment_row(
    github_double: GitHubDouble, tmp_path: Path
) -> None:
    from tests.helpers import PROJECT_ROOT, as_experiment
    from tests.workflows.mlflow_store import churn_store

    store = churn_store(tmp_path / "mlflow", third=True)
    staging = (PROJECT_ROOT / "environments" / "staging.yaml").read_text()
    experiment = as_experiment(staging, (3,), version=2)
    harness = _harness(
        github_double,
        tmp_path,
        {"environments/staging.yaml": (staging, experiment)},
        vars={"MLFLOW_TRACKING_URI": store.tracking_uri},
        prepare=store.commit_dataset,
    )
    jobs = harness.run()
    gates = jobs["gate"]
    assert [(g.matrix["to"], g.matrix["change"]) for g in gates] == [(2, "promoted"), (3, "challenger")]
    assert all(g.result == "success" for g in gates), [(s.command, s.stderr) for g in gates for s in g.steps]
    (report,) = jobs["report"]
    assert report.result == "success", [(s.command, s.stdout, s.stderr) for s in report.steps]
    (comment,) = github_double.repo(REPO).comments.values()
    assert comment.body.startswith("<!-- modelcd:sticky -->\n## modelcd: all 2 gates passed\n")
    assert "| staging | churn | challenger | v1 | v3 | ✅ pass |" in comment.body
    contexts = [(s.context, s.state) for s in github_double.repo(REPO).statuses]
    assert contexts == [
        ("modelcd/gate churn@staging", "success"),
        ("modelcd/gate churn v3@staging", "success"),
        ("modelcd/required", "success"),
    ]

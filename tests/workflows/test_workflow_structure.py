"""Structural rules every workflow must keep (the hardening the issue asks for)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cd.config import load_repo
from tests.helpers import PROJECT_ROOT, GitRepo
from tests.workflows.workflow_files import (
    SHA_PIN,
    WORKFLOW_NAMES,
    Workflow,
    all_workflows,
    load_workflow,
    run_steps,
)

WORKFLOWS = all_workflows()
IDS = [w.name for w in WORKFLOWS]
UNTRUSTED = re.compile(r"github\.(event|head_ref)|inputs\.|matrix\.|steps\.|needs\.|secrets\.|vars\.")
MAKE_TARGETS = ("test", "lint", "install", "audit-workflows")


def test_every_workflow_the_issue_names_exists() -> None:
    assert sorted(WORKFLOW_NAMES) == sorted(IDS)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=IDS)
def test_top_level_permissions_are_empty(workflow: Workflow) -> None:
    assert workflow.doc["permissions"] == {}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=IDS)
def test_every_job_grants_its_own_permissions(workflow: Workflow) -> None:
    for name, job in workflow.jobs.items():
        assert isinstance(job.get("permissions"), dict) and job["permissions"], f"{workflow.name}: job {name}"
        assert "write-all" not in str(job["permissions"])


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=IDS)
def test_every_action_is_pinned_to_a_full_commit_sha_with_a_version_comment(workflow: Workflow) -> None:
    uses_lines = [line for line in workflow.text.splitlines() if re.match(r"^\s*(-\s+)?uses:", line)]
    assert uses_lines
    for line in uses_lines:
        match = SHA_PIN.match(line)
        assert match, line
        assert re.fullmatch(r"[0-9a-f]{40}", match["ref"]), f"not pinned to a commit SHA: {line.strip()}"
        assert match["version"] and re.fullmatch(r"v\d+(\.\d+)*", match["version"]), (
            f"no version comment: {line}"
        )


def test_the_same_action_is_pinned_to_the_same_sha_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for workflow in WORKFLOWS:
        for match in filter(None, map(SHA_PIN.match, workflow.text.splitlines())):
            pins.setdefault(match["action"], set()).add(f"{match['ref']} {match['version']}")
    assert {action: len(refs) for action, refs in pins.items()} == dict.fromkeys(pins, 1)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=IDS)
def test_no_pull_request_target(workflow: Workflow) -> None:
    assert "pull_request_target" not in workflow.triggers
    assert "pull_request_target" not in workflow.text.replace("# ", "")


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=IDS)
def test_run_steps_hold_no_expressions_untrusted_text_only_through_env(workflow: Workflow) -> None:
    for job, step in run_steps(workflow):
        assert "${{" not in step["run"], f"{workflow.name}/{job}: {step['run']!r}"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=IDS)
def test_every_run_step_calls_modelcd_or_a_make_target(workflow: Workflow) -> None:
    for job, step in run_steps(workflow):
        command = step["run"].strip()
        assert "\n" not in command, f"{workflow.name}/{job}: one command per step, no logic in YAML"
        first = command.split()[:2]
        assert first[0] == "modelcd" or (first[0] == "make" and first[1] in MAKE_TARGETS), command


def test_the_make_targets_workflows_call_exist() -> None:
    for target in MAKE_TARGETS:
        out = subprocess.run(
            ["make", "-n", target], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
        )
        assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=IDS)
def test_checkouts_never_persist_the_token(workflow: Workflow) -> None:
    for job in workflow.jobs:
        for step in workflow.steps(job):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, f"{workflow.name}/{job}"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=IDS)
def test_aws_only_through_oidc(workflow: Workflow) -> None:
    assert "AWS_ACCESS_KEY_ID" not in workflow.text and "aws-secret-access-key" not in workflow.text
    for name, job in workflow.jobs.items():
        uses_aws = any("configure-aws-credentials" in str(s.get("uses", "")) for s in job.get("steps", []))
        if uses_aws:
            assert job["permissions"].get("id-token") == "write", f"{workflow.name}/{name}"


def _deploy_jobs() -> list[tuple[str, dict]]:
    deploy = load_workflow("deploy")
    return [
        (name, job)
        for name, job in deploy.jobs.items()
        if any(str(s.get("run", "")).startswith("modelcd deploy") for s in job.get("steps", []))
    ]


def test_one_deploy_job_runs_each_changed_environment_from_the_plan_in_turn() -> None:
    [(_, job)] = _deploy_jobs()
    assert job["environment"] == "${{ matrix.env }}"
    assert job["strategy"] == {
        "max-parallel": 1,
        "fail-fast": True,
        "matrix": "${{ fromJSON(needs.plan.outputs.deploys) }}",
    }
    run = next(s["run"] for s in job["steps"] if str(s.get("run", "")).startswith("modelcd deploy"))
    assert run == 'modelcd deploy --env "$TARGET_ENV" --build-dir dist'
    assert job["concurrency"] == {"group": "modelcd-deploy-${{ matrix.env }}", "cancel-in-progress": False}
    assert job["timeout-minutes"] == "${{ matrix.timeout_minutes }}"
    assert job["permissions"]["id-token"] == "write"


def test_environments_deploy_in_promotion_order_whatever_their_names() -> None:
    from cd.github.matrix import deploy_environments

    config = load_repo(PROJECT_ROOT)
    assert config.promotion_order() == ["staging", "production"]
    assert [e["env"] for e in deploy_environments(config, config.promotion_order())["include"]] == [
        "staging",
        "production",
    ]


def test_a_third_environment_is_deployed_after_the_one_it_promotes_from(template_repo: GitRepo) -> None:
    text = template_repo.read("environments/production.yaml")
    canary = text.replace("name: production", "name: canary").replace("modelcd-production", "modelcd-canary")
    template_repo.write("environments/canary.yaml", canary)
    template_repo.write(
        "environments/production.yaml", text.replace("promote_from: staging", "promote_from: canary")
    )
    assert load_repo(template_repo.path).promotion_order() == ["staging", "canary", "production"]


@pytest.mark.parametrize("env_name", ["staging", "production"])
def test_deploy_job_timeout_exceeds_the_longest_rollout_the_policy_allows(env_name: str) -> None:
    from cd.github.matrix import deploy_timeout_minutes

    env = load_repo(PROJECT_ROOT).environments[env_name]
    policy = env.rollout
    # bakes plus an allowance of 10 minutes per traffic step for SageMaker endpoint updates
    updates = 600 * sum(1 for s in policy.steps if type(s).__name__ == "SetWeight") + 1200
    assert deploy_timeout_minutes(env) * 60 > policy.max_duration_seconds + updates
    assert deploy_timeout_minutes(env) <= 360  # GitHub-hosted runners' limit


def test_reconcile_runs_on_a_schedule_for_every_environment() -> None:
    workflow = load_workflow("reconcile")
    assert set(workflow.triggers) == {"schedule", "workflow_dispatch"}
    job = workflow.jobs["reconcile"]
    assert job["strategy"]["matrix"] == "${{ fromJSON(needs.environments.outputs.deploys) }}"
    assert any(s.get("run") == 'modelcd reconcile --env "$TARGET_ENV"' for s in job["steps"])


def test_monitor_runs_hourly_per_environment_and_keeps_its_reports() -> None:
    workflow = load_workflow("monitor")
    assert set(workflow.triggers) == {"schedule", "workflow_dispatch"}
    job = workflow.jobs["monitor"]
    assert job["strategy"]["matrix"] == "${{ fromJSON(needs.environments.outputs.deploys) }}"
    assert job["permissions"] == {"contents": "read", "issues": "write", "id-token": "write"}
    runs = [s.get("run") for s in job["steps"]]
    assert 'modelcd monitor --env "$TARGET_ENV" --issues --out reports/monitor --exit-zero' in runs
    upload = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()" and upload["with"]["path"] == "reports/monitor/"


def test_experiments_are_decided_hourly_per_environment_with_a_token_that_opens_prs() -> None:
    workflow = load_workflow("experiment")
    assert set(workflow.triggers) == {"schedule", "workflow_dispatch"}
    job = workflow.jobs["experiment"]
    assert job["strategy"]["matrix"] == "${{ fromJSON(needs.environments.outputs.deploys) }}"
    step = next(s for s in job["steps"] if s.get("run") == 'modelcd experiment --env "$TARGET_ENV"')
    assert "MODELCD_PR_TOKEN" in step["env"]


def test_pr_gate_evaluates_models_with_a_read_only_token_and_no_credentials() -> None:
    gate = load_workflow("pr-gate").jobs["gate"]
    assert gate["permissions"] == {"contents": "read"}
    assert "environment" not in gate
    text = yaml_dump(gate)
    assert "secrets." not in text and "configure-aws-credentials" not in text


BASE_REF = "${{ github.event.pull_request.base.sha || github.event.merge_group.base_sha }}"


@pytest.mark.parametrize("name", ["report", "required"])
def test_pr_gate_jobs_that_write_run_no_pr_code(name: str) -> None:
    job = load_workflow("pr-gate").jobs[name]
    checkouts = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/checkout@")]
    assert [c["with"]["ref"] for c in checkouts] == [BASE_REF]
    assert set(job["permissions"]) == {"contents", "pull-requests", "statuses"}


def test_pr_gate_installs_modelcd_from_the_base_commit_in_every_job() -> None:
    workflow = load_workflow("pr-gate")
    for name in workflow.jobs:
        installs = [s for s in workflow.steps(name) if s.get("run") == "make install"]
        assert [s.get("working-directory") for s in installs] == ["modelcd-base"], name
        base = [s for s in workflow.steps(name) if s.get("with", {}).get("path") == "modelcd-base"]
        assert base and base[0]["with"]["ref"] == BASE_REF


def test_pr_gate_runs_on_every_pull_request_and_merge_group() -> None:
    # no `paths:` filter: its required status must arrive for a code-only PR too
    assert load_workflow("pr-gate").triggers == {"pull_request": None, "merge_group": None}


def test_the_required_status_is_posted_whatever_failed_before() -> None:
    job = load_workflow("pr-gate").jobs["required"]
    assert job["if"] == "${{ always() }}" and job["needs"] == ["plan", "gate", "report"]
    step = next(s for s in job["steps"] if str(s.get("run", "")).startswith("modelcd required-check"))
    assert step["env"]["MODELCD_NEEDS"] == "${{ toJSON(needs) }}"


def test_approvals_report_on_every_pull_request_and_merge_group() -> None:
    assert set(load_workflow("approvals").triggers) == {"pull_request_review", "pull_request", "merge_group"}


def test_promote_is_a_manual_workflow_with_model_from_to_inputs() -> None:
    inputs = load_workflow("promote").triggers["workflow_dispatch"]["inputs"]
    assert sorted(inputs) == ["from", "model", "to"]


def test_drift_runs_on_a_schedule_and_by_hand() -> None:
    assert set(load_workflow("drift").triggers) == {"schedule", "workflow_dispatch"}


def test_codeowners_guard_gates_workflows_and_production() -> None:
    lines = (PROJECT_ROOT / ".github" / "CODEOWNERS").read_text().splitlines()
    owned = {line.split()[0] for line in lines if line.strip() and not line.startswith("#")}
    assert {"/gates/", "/.github/", "/environments/production.yaml"} <= owned


def yaml_dump(data: object) -> str:
    import yaml

    return yaml.safe_dump(data)


def _zizmor() -> str | None:
    found = shutil.which("zizmor") or str(Path(sys.executable).parent / "zizmor")
    return found if Path(found).exists() else None


def test_zizmor_offline_reports_no_findings() -> None:
    zizmor = _zizmor()
    if zizmor is None:
        pytest.skip("zizmor is not installed")
    out = subprocess.run(
        [zizmor, "--offline", "--no-progress", ".github/"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "No findings to report" in out.stdout


def test_the_only_zizmor_suppression_is_the_justified_issue_comment_trigger() -> None:
    ignores = [
        (w.name, line.strip()) for w in WORKFLOWS for line in w.text.splitlines() if "zizmor: ignore" in line
    ]
    assert ignores == [("override", "issue_comment: # zizmor: ignore[dangerous-triggers]")]
    override = load_workflow("override")
    assert all(
        s.get("with", {}).get("ref") is None
        for s in override.steps("override")
        if "checkout" in str(s.get("uses"))
    ), "the override job must check out the default branch only, never the PR"


@pytest.mark.parametrize(("workflow", "job"), [("deploy", "deploy"), ("promote", "promote")])
def test_prs_are_opened_with_a_token_that_triggers_workflows(workflow: str, job: str) -> None:
    steps = load_workflow(workflow).steps(job)
    opening = next(
        s for s in steps if str(s.get("run", "")).startswith(("modelcd deploy", "modelcd promote"))
    )
    assert opening["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    assert (
        opening["env"]["MODELCD_PR_TOKEN"]
        == "${{ steps.app-token.outputs.token || secrets.MODELCD_PR_TOKEN }}"
    )
    app = next(s for s in steps if s.get("id") == "app-token")
    assert str(app["uses"]).startswith("actions/create-github-app-token@")
    assert app["if"] == "${{ vars.MODELCD_APP_CLIENT_ID != '' }}"

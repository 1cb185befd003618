"""Bad input to the commands this change added: a usage error (exit 2) that names what to fix."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import GitRepo, run_modelcd


def test_required_check_without_the_needs_context_says_how_to_pass_it(template_repo: GitRepo) -> None:
    done = run_modelcd("required-check", cwd=template_repo.path, env={"MODELCD_NEEDS": ""})
    assert done.returncode == 2
    assert "the needs context: not the JSON of the `needs` context" in done.stderr


def test_required_check_with_the_variable_unset_names_it(template_repo: GitRepo) -> None:
    done = run_modelcd("required-check", "--needs-env", "NOT_SET_ANYWHERE", cwd=template_repo.path)
    assert done.returncode == 2
    assert "$NOT_SET_ANYWHERE is not set: pass `${{ toJSON(needs) }}` in it" in done.stderr


def test_matrix_needs_a_base_or_every_environment(template_repo: GitRepo) -> None:
    done = run_modelcd("matrix", cwd=template_repo.path)
    assert done.returncode == 2
    assert "say which plan: --base REF (or --environments for every environment)" in done.stderr


def test_reconcile_of_a_model_the_environment_lacks_names_the_file(template_repo: GitRepo) -> None:
    done = run_modelcd("reconcile", "--env", "staging", "--model", "fraud", cwd=template_repo.path)
    assert done.returncode == 2
    assert "environments/staging.yaml: model(s) fraud not in environment staging" in done.stderr


def test_approvals_outside_a_merge_group_needs_the_pr_number(template_repo: GitRepo, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text("{}")
    env = {
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_TOKEN": "t",
        "GITHUB_REPOSITORY": "acme/models",
    }
    done = run_modelcd("approvals", "--changed", cwd=template_repo.path, env=env)
    assert done.returncode == 2
    assert (
        "say which pull request with --pr: this run's event is pull_request, not merge_group" in done.stderr
    )

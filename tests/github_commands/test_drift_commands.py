"""`modelcd diff` and `modelcd drift`: the template's environments against endpoints on a moto server,
drift issues in the GitHub API double (open, update, close)."""

from __future__ import annotations

from pathlib import Path

from tests.github_commands.conftest import Sagemaker, make_cli
from tests.github_double import GitHubDouble
from tests.helpers import GitRepo, run_modelcd
from tests.workflows.events import REPO, workflow_dispatch_event


def _in_sync(sagemaker: Sagemaker) -> None:
    sagemaker.serve("modelcd-staging-churn", {1: 1.0}, "ml.m5.large", 1)
    sagemaker.serve("modelcd-production-churn", {1: 1.0}, "ml.m5.xlarge", 2)


def test_diff_is_clean_when_the_endpoints_match_git(template_repo: GitRepo, sagemaker: Sagemaker) -> None:
    _in_sync(sagemaker)
    done = run_modelcd("diff", "--env", "production", cwd=template_repo.path, env=sagemaker.env())
    assert (done.returncode, done.stdout) == (0, "**production**: in sync with git.\n")


def test_diff_exits_1_and_shows_version_weights_and_instance_drift(
    template_repo: GitRepo, sagemaker: Sagemaker
) -> None:
    sagemaker.serve("modelcd-production-churn", {1: 0.75, 2: 0.25}, "ml.m5.xlarge", 2)
    done = run_modelcd("diff", "--env", "production", cwd=template_repo.path, env=sagemaker.env())
    assert done.returncode == 1
    assert "| churn | weights | v1 100% | v1 75%, v2 25% |" in done.stdout
    sagemaker.serve("modelcd-production-churn", {2: 1.0}, "ml.m5.large", 1)
    done = run_modelcd("diff", "--env", "production", cwd=template_repo.path, env=sagemaker.env())
    assert done.stdout.splitlines()[-3:] == [
        "| churn | version | v1 | v2 |",
        "| churn | instance_type | ml.m5.xlarge | ml.m5.large |",
        "| churn | instance_count | 2 | 1 |",
    ]


def test_diff_names_a_missing_endpoint(template_repo: GitRepo, sagemaker: Sagemaker) -> None:
    done = run_modelcd("diff", "--env", "staging", cwd=template_repo.path, env=sagemaker.env())
    assert done.returncode == 1
    assert "| churn | endpoint | modelcd-staging-churn serving v1 | does not exist |" in done.stdout


def test_diff_of_an_unknown_environment_is_a_usage_error(
    template_repo: GitRepo, sagemaker: Sagemaker
) -> None:
    done = run_modelcd("diff", "--env", "qa", cwd=template_repo.path, env=sagemaker.env())
    assert done.returncode == 2
    assert "no environment 'qa' (environments/qa.yaml); known: production, staging" in done.stderr


def _drift(double: GitHubDouble, tmp_path: Path, repo: GitRepo, sagemaker: Sagemaker):  # type: ignore[no-untyped-def]
    cli = make_cli(
        double, tmp_path, "workflow_dispatch", workflow_dispatch_event({}), repo.path, sagemaker.env()
    )
    return cli("drift")


def _open_issues(double: GitHubDouble) -> list:
    return [i for i in double.repo(REPO).issues.values() if i.state == "open" and "modelcd-drift" in i.labels]


def test_drift_opens_one_issue_per_drifted_environment_updates_it_and_closes_it(
    github_double: GitHubDouble, template_repo: GitRepo, sagemaker: Sagemaker, tmp_path: Path
) -> None:
    github_double.create_repo(REPO)
    _in_sync(sagemaker)
    sagemaker.serve("modelcd-production-churn", {2: 1.0}, "ml.m5.xlarge", 2)

    first = _drift(github_double, tmp_path, template_repo, sagemaker)
    assert first.returncode == 0, first.stderr
    (issue,) = _open_issues(github_double)
    assert issue.title == "modelcd: production has drifted from git"
    assert "<!-- modelcd:drift env=production -->" in issue.body
    assert "| churn | version | v1 | v2 |" in issue.body
    assert f"production: open issue #{issue.number}" in first.stdout

    again = _drift(github_double, tmp_path, template_repo, sagemaker)  # same drift: nothing to write
    assert f"production: unchanged issue #{issue.number}" in again.stdout

    sagemaker.serve("modelcd-production-churn", {1: 1.0}, "ml.m5.large", 2)
    changed = _drift(github_double, tmp_path, template_repo, sagemaker)
    assert f"production: update issue #{issue.number}" in changed.stdout
    (updated,) = _open_issues(github_double)
    assert (updated.number, "| churn | instance_type | ml.m5.xlarge | ml.m5.large |" in updated.body) == (
        issue.number,
        True,
    )

    _in_sync(sagemaker)
    resolved = _drift(github_double, tmp_path, template_repo, sagemaker)
    assert f"production: close issue #{issue.number}" in resolved.stdout
    assert _open_issues(github_double) == []
    closed = github_double.repo(REPO).issues[issue.number]
    assert closed.state == "closed" and "Resolved: **production** matches git again." in (closed.body or "")
    assert len(github_double.repo(REPO).issues) == 1  # never a second issue


def test_drift_without_github_settings_reports_only(template_repo: GitRepo, sagemaker: Sagemaker) -> None:
    _in_sync(sagemaker)
    done = run_modelcd("drift", cwd=template_repo.path, env=sagemaker.env())
    assert done.returncode == 0
    assert done.stdout.splitlines() == [
        "**production**: in sync with git.",
        "**staging**: in sync with git.",
        "no GitHub settings (GITHUB_TOKEN, GITHUB_REPOSITORY): drift issues not updated",
    ]

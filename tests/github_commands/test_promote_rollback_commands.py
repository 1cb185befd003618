"""`modelcd promote` and `modelcd rollback`: real git repository, SageMaker on a moto server, and the
GitHub API double (or no GitHub at all: the local branch only, as the demo does)."""

from __future__ import annotations

import difflib
import subprocess
from pathlib import Path

from cd.github.api import GitHubClient
from cd.github.settings import GitHubSettings
from tests.github_commands.conftest import Sagemaker, commit_version
from tests.github_double import GitHubDouble
from tests.helpers import GitRepo, git, run_modelcd
from tests.workflows.events import REPO

IDENTITY = {
    "GIT_AUTHOR_NAME": "github-actions[bot]",
    "GIT_AUTHOR_EMAIL": "bot@example.com",
    "GIT_COMMITTER_NAME": "github-actions[bot]",
    "GIT_COMMITTER_EMAIL": "bot@example.com",
}
PROD = "environments/production.yaml"
BRANCH = "modelcd/promote-churn-v2-to-production"


def _changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def _promote(repo: GitRepo, sagemaker: Sagemaker, github: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    env = {**sagemaker.env(), **IDENTITY, **(github or {})}
    return run_modelcd("promote", "churn", "--from", "staging", "--to", "production", cwd=repo.path, env=env)


def test_without_github_settings_promote_creates_the_local_branch_only(
    template_repo: GitRepo, sagemaker: Sagemaker
) -> None:
    commit_version(template_repo, "staging", 2)
    sagemaker.serve("modelcd-staging-churn", {2: 1.0})
    before_head, before_status = template_repo.head(), template_repo.git("status", "--porcelain")
    done = _promote(template_repo, sagemaker)
    assert done.returncode == 0, done.stderr
    assert f"branch {BRANCH} (local branch only)" in done.stdout
    assert f"created the local branch {BRANCH} only" in done.stdout
    assert template_repo.git("diff", "--name-only", "main", BRANCH) == PROD
    assert _changed_lines(template_repo.read(PROD), template_repo.git("show", f"{BRANCH}:{PROD}") + "\n") == [
        "-    version: 1",
        "+    version: 2",
    ]
    assert (
        template_repo.git("log", "-1", "--format=%s", BRANCH) == "Promote churn v2 from staging to production"
    )
    # the working tree, index and current branch are untouched
    assert (template_repo.head(), template_repo.git("status", "--porcelain")) == (before_head, before_status)
    assert template_repo.git("symbolic-ref", "--short", "HEAD") == "main"


def test_promote_refuses_a_version_that_is_not_live_in_the_source(
    template_repo: GitRepo, sagemaker: Sagemaker
) -> None:
    commit_version(template_repo, "staging", 2)
    sagemaker.serve("modelcd-staging-churn", {1: 0.9, 2: 0.1})
    done = _promote(template_repo, sagemaker)
    assert done.returncode == 1
    assert "error: churn is not live in staging (no endpoint serves it at 100%)" in done.stderr
    assert BRANCH not in template_repo.git("branch", "--list")


def test_promote_refuses_when_staging_still_serves_the_old_version(
    template_repo: GitRepo, sagemaker: Sagemaker
) -> None:
    commit_version(template_repo, "staging", 2)
    sagemaker.serve("modelcd-staging-churn", {1: 1.0})
    done = _promote(template_repo, sagemaker)
    assert done.returncode == 1
    assert "churn v2 is desired in staging but v1 is live" in done.stderr


def _rollback_staging(repo: GitRepo, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_modelcd("rollback", "--env", "staging", "--model", "churn", cwd=repo.path, env=env)


def _github_with_main(double: GitHubDouble, repo: GitRepo) -> dict[str, str]:
    double.create_repo(REPO, head_sha=repo.head())
    for path in (PROD, "environments/staging.yaml"):
        double.put_file(REPO, path, repo.read(path))
    return double.env(REPO)


def test_promote_opens_the_pr_with_the_staging_evidence(
    github_double: GitHubDouble, template_repo: GitRepo, sagemaker: Sagemaker
) -> None:
    commit_version(template_repo, "staging", 2)
    sagemaker.serve("modelcd-staging-churn", {2: 1.0})
    github = _github_with_main(github_double, template_repo)
    client = GitHubClient(
        GitHubSettings(token=github_double.token, repository=REPO, api_url=github_double.url)
    )
    release = client.create_release(
        "churn-v2", "main", "churn v2", "Gate: **pass** (roc_auc 0.84)", draft=False
    )
    deployment = client.create_deployment(template_repo.head(), "staging", "churn v2")
    done = _promote(template_repo, sagemaker, github)
    assert done.returncode == 0, done.stderr
    (pull,) = [p for p in github_double.repo(REPO).pulls.values() if p.head_ref == BRANCH]
    assert (pull.title, pull.base_ref, pull.user) == (
        "Promote churn v2 from staging to production",
        "main",
        "modelcd-bot",
    )
    assert pull.body is not None
    assert f"- Release: [churn-v2]({release.html_url}) (gate verdict, model card, checksums)" in pull.body
    assert f"- Deployment {deployment.id} to `staging`" in pull.body
    assert "Gate: **pass** (roc_auc 0.84)" in pull.body
    assert "v2 is live in `staging`" in pull.body
    files = github_double.repo(REPO).files
    assert _changed_lines(files["main"][PROD].decode(), files[BRANCH][PROD].decode()) == [
        "-    version: 1",
        "+    version: 2",
    ]
    assert f"pull request #{pull.number}" in done.stdout


def test_rollback_opens_the_pr_that_sets_git_back_to_what_is_live(
    github_double: GitHubDouble, template_repo: GitRepo, sagemaker: Sagemaker
) -> None:
    commit_version(template_repo, "staging", 3)
    sagemaker.serve("modelcd-staging-churn", {1: 1.0})
    github = _github_with_main(github_double, template_repo)
    done = _rollback_staging(template_repo, {**sagemaker.env(), **IDENTITY, **github})
    assert done.returncode == 0, done.stderr
    (pull,) = github_double.repo(REPO).pulls.values()
    assert (pull.title, pull.head_ref) == (
        "Roll back churn in staging to v1 (what is live)",
        "modelcd/rollback-churn-staging-to-v1",
    )
    assert "back to **v1**, which is what the endpoint serves, from v3 in git" in (pull.body or "")
    files = github_double.repo(REPO).files
    staging = "environments/staging.yaml"
    assert _changed_lines(files["main"][staging].decode(), files[pull.head_ref][staging].decode()) == [
        "-    version: 3",
        "+    version: 1",
    ]


def test_rollback_on_a_runner_where_git_knows_nobody_commits_as_the_actions_bot(
    template_repo: GitRepo, sagemaker: Sagemaker, tmp_path: Path
) -> None:
    commit_version(template_repo, "staging", 3)
    sagemaker.serve("modelcd-staging-churn", {1: 1.0})
    home = tmp_path / "runner-home"
    home.mkdir()
    bare = {"HOME": str(home), "GIT_CONFIG_GLOBAL": str(home / "none"), "GIT_CONFIG_NOSYSTEM": "1"}
    done = _rollback_staging(template_repo, {**sagemaker.env(), **bare})
    assert done.returncode == 0, done.stderr
    author = git(
        template_repo.path, "log", "-1", "--format=%an <%ae>", "modelcd/rollback-churn-staging-to-v1"
    )
    assert author == "github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>"


def test_the_pr_is_opened_with_the_pr_token_so_its_checks_run(
    github_double: GitHubDouble, template_repo: GitRepo, sagemaker: Sagemaker
) -> None:
    commit_version(template_repo, "staging", 3)
    sagemaker.serve("modelcd-staging-churn", {1: 1.0})
    github = _github_with_main(github_double, template_repo)
    github_double.add_token("ghs_appinstallation", "modelcd-app[bot]", type="Bot")
    env = {**sagemaker.env(), **IDENTITY, **github, "MODELCD_PR_TOKEN": "ghs_appinstallation"}
    done = _rollback_staging(template_repo, env)
    assert done.returncode == 0, done.stderr
    assert [r.login for r in github_double.calls("pulls/create")] == ["modelcd-app[bot]"]


def test_a_pr_opened_with_github_token_warns_that_its_checks_will_not_run(
    github_double: GitHubDouble, template_repo: GitRepo, sagemaker: Sagemaker
) -> None:
    commit_version(template_repo, "staging", 3)
    sagemaker.serve("modelcd-staging-churn", {1: 1.0})
    github = _github_with_main(github_double, template_repo)
    env = {**sagemaker.env(), **IDENTITY, **github, "GITHUB_ACTIONS": "true"}
    done = _rollback_staging(template_repo, env)
    assert done.returncode == 0, done.stderr
    assert "GitHub starts no workflows for it" in done.stdout + done.stderr


def test_a_teammates_later_edit_on_main_is_kept_in_the_rollback_pr(
    github_double: GitHubDouble, template_repo: GitRepo, sagemaker: Sagemaker
) -> None:
    commit_version(template_repo, "staging", 3)
    sagemaker.serve("modelcd-staging-churn", {1: 1.0})
    github = _github_with_main(github_double, template_repo)
    staging = "environments/staging.yaml"
    edited = template_repo.read(staging).replace("instance_count: 1", "instance_count: 2")
    github_double.put_file(REPO, staging, edited)  # on GitHub's main, not in this checkout
    done = _rollback_staging(template_repo, {**sagemaker.env(), **IDENTITY, **github})
    assert done.returncode == 0, done.stderr
    (pull,) = github_double.repo(REPO).pulls.values()
    files = github_double.repo(REPO).files
    assert _changed_lines(files["main"][staging].decode(), files[pull.head_ref][staging].decode()) == [
        "-    version: 3",
        "+    version: 1",
    ]


def test_a_proposal_branch_that_exists_on_github_is_never_overwritten(
    github_double: GitHubDouble, template_repo: GitRepo, sagemaker: Sagemaker
) -> None:
    commit_version(template_repo, "staging", 3)
    sagemaker.serve("modelcd-staging-churn", {1: 1.0})
    github = _github_with_main(github_double, template_repo)
    branch = "modelcd/rollback-churn-staging-to-v1"
    client = GitHubClient(GitHubSettings.from_env(github))
    client.create_branch(branch, client.branch_sha("main"))
    theirs = template_repo.read("environments/staging.yaml") + "# a teammate's note\n"
    github_double.put_file(REPO, "environments/staging.yaml", theirs, branch=branch)
    done = _rollback_staging(template_repo, {**sagemaker.env(), **IDENTITY, **github})
    assert done.returncode == 1
    assert f"branch {branch} already exists on GitHub" in done.stderr
    assert github_double.repo(REPO).files[branch]["environments/staging.yaml"].decode() == theirs


def test_rollback_when_git_already_matches_is_refused(template_repo: GitRepo, sagemaker: Sagemaker) -> None:
    sagemaker.serve("modelcd-staging-churn", {1: 1.0})
    done = _rollback_staging(template_repo, {**sagemaker.env(), **IDENTITY})
    assert done.returncode == 1
    assert "git already has churn at v1 in staging" in done.stderr

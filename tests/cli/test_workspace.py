"""The one workspace every command goes through: the root rule, its message, lookups, and the errors a
person meets outside a repository or without AWS credentials."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cd.errors import UsageError, WorkspaceError
from cd.workspace import Workspace, find_root
from tests.helpers import PROJECT_ROOT, TEMPLATE_DIRS, run_modelcd


@pytest.fixture
def template(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for name in TEMPLATE_DIRS:
        shutil.copytree(PROJECT_ROOT / name, root / name)
    return root


def test_the_root_is_the_nearest_directory_upwards_that_holds_environments(template: Path) -> None:
    assert find_root(start=template / "environments") == template
    assert find_root(start=template / "models" / "churn") == template


def test_a_nested_repository_is_its_own_root(template: Path) -> None:
    inner = template / "models" / "inner"
    (inner / "environments").mkdir(parents=True)
    assert find_root(start=inner) == inner


def test_outside_a_repository_the_message_says_what_was_looked_for_and_where(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError) as info:
        find_root(start=tmp_path)
    assert str(info.value).startswith(
        f"not inside a modelcd repository: looked for an environments/ directory in {tmp_path} and every "
        "directory above it"
    )


def test_repo_must_name_a_modelcd_repository(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="has no environments/ directory"):
        find_root(tmp_path)
    with pytest.raises(WorkspaceError, match="no such directory"):
        find_root(tmp_path / "missing")


def test_environment_lookup_names_the_file_and_the_known_ones(template: Path) -> None:
    ws = Workspace.find(template)
    assert ws.environment("staging").name == "staging"
    with pytest.raises(UsageError) as info:
        ws.environment("qa")
    assert str(info.value) == "no environment 'qa' (environments/qa.yaml); known: production, staging"


def test_model_lookup_names_the_file_and_the_known_ones(template: Path) -> None:
    with pytest.raises(UsageError) as info:
        Workspace.find(template).model("fraud")
    assert str(info.value) == "no model 'fraud' (models/fraud/model.yaml); known: churn"


def test_the_config_is_loaded_once(template: Path) -> None:
    ws = Workspace.find(template)
    assert ws.config is ws.config


def test_the_aws_retry_mode_reaches_every_command_that_builds_a_target(template: Path) -> None:
    ws = Workspace.find(
        template, environ={"MODELCD_AWS_RETRY_MODE": "adaptive", "AWS_DEFAULT_REGION": "eu-west-1"}
    )
    target = ws.target(ws.environment("staging"))
    assert target.sm.meta.config.retries["mode"] == "adaptive"  # type: ignore[attr-defined]


def test_an_unknown_retry_mode_is_refused(template: Path) -> None:
    ws = Workspace.find(template, environ={"MODELCD_AWS_RETRY_MODE": "eager"})
    with pytest.raises(UsageError, match="MODELCD_AWS_RETRY_MODE must be 'standard' or 'adaptive'"):
        ws.target(ws.environment("staging"))


def test_github_is_optional_or_required_by_the_method_called(template: Path) -> None:
    ws = Workspace.find(template, environ={})
    assert ws.github_if_configured() is None
    with pytest.raises(Exception, match="GITHUB_TOKEN and GITHUB_REPOSITORY not set"):
        ws.github()


@pytest.mark.parametrize(
    "command",
    [
        ["validate"],
        ["plan", "--base", "HEAD"],
        ["status", "--env", "staging"],
        ["release", "--model", "churn", "--version", "1"],
        ["local", "status"],
    ],
)
def test_every_command_outside_a_repository_exits_1_with_the_hint(tmp_path: Path, command: list[str]) -> None:
    done = run_modelcd(*command, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(
        "error: not inside a modelcd repository: looked for an environments/ directory"
    )
    assert "or pass --repo" in done.stderr


def test_status_without_aws_credentials_exits_1_with_the_oidc_and_profile_hint(
    template: Path, tmp_path: Path
) -> None:
    no_credentials = {
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    done = run_modelcd("status", "--env", "staging", cwd=template, env=no_credentials, clean_aws=True)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error: SageMaker DescribeEndpoint: no AWS credentials found; ")
    assert "configure-aws-credentials" in done.stderr and "AWS_PROFILE" in done.stderr
    assert "unexpected" not in done.stderr

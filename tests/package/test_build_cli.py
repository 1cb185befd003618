"""`modelcd build` as a process: usage errors and the no-Docker message, before any work is done."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import PROJECT_ROOT, GitRepo, run_modelcd

NO_REGISTRY = {"MLFLOW_TRACKING_URI": "sqlite:////nonexistent/never-opened.db"}


def test_an_unknown_model_is_a_usage_error(template_repo: GitRepo) -> None:
    done = run_modelcd("build", "--model", "fraud", "--version", "1", cwd=template_repo.path, env=NO_REGISTRY)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: no model 'fraud' (models/fraud/model.yaml); known: churn"


def test_push_without_containerize_is_refused(template_repo: GitRepo) -> None:
    done = run_modelcd(
        "build", "--model", "churn", "--version", "1", "--push", cwd=template_repo.path, env=NO_REGISTRY
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "error: --push needs --containerize (there is no image to push otherwise)"


def test_an_unknown_environment_is_a_usage_error(template_repo: GitRepo) -> None:
    done = run_modelcd(
        "build", "--model", "churn", "--version", "1", "--env", "qa", cwd=template_repo.path, env=NO_REGISTRY
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip() == "error: no environment 'qa' (environments/qa.yaml); known: production, staging"
    )


@pytest.mark.skipif(
    shutil.which("docker") is None, reason="needs the docker client (the engine may be absent)"
)
def test_containerize_without_docker_says_what_to_run_where(template_repo: GitRepo, tmp_path: Path) -> None:
    env = {**NO_REGISTRY, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    done = run_modelcd(
        "build",
        "--model",
        "churn",
        "--version",
        "4",
        "--containerize",
        "--push",
        cwd=template_repo.path,
        env=env,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(
        "error: --containerize needs a Docker engine, and the Docker engine is not reachable"
    )
    assert "in GitHub Actions" in done.stderr
    assert "`modelcd build --model churn --version 4 --containerize --push`" in done.stderr
    assert not (template_repo.path / "dist").exists()


def test_importing_the_package_api_and_command_loads_no_heavy_library() -> None:
    probe = (
        "import sys, cd.package, cd.cli.package_commands;"
        "print(sorted(m for m in ('bentoml', 'mlflow', 'pandas', 'numpy', 'boto3', 'sklearn') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_an_image_from_unlocked_requirements_is_refused(template_repo: GitRepo) -> None:
    done = run_modelcd(
        "build", "--model", "churn", "--version", "1", "--containerize", "--no-lock",
        cwd=template_repo.path, env=NO_REGISTRY,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith(
        "error: --containerize with --no-lock: an image must pin every package it installs; drop --no-lock"
    )
    assert not (template_repo.path / "dist").exists()

"""`build_bento` refuses impossible requests before touching the registry or BentoML."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cd.config import load_repo
from cd.errors import PackageError, UsageError
from cd.package import build_bento
from cd.package.build import image_repository_for
from tests.helpers import GitRepo
from tests.package.churn_model import churn_spec

IMAGE_REPOSITORY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/modelcd"
UNREACHABLE = "sqlite:////nonexistent/never-opened.db"


def test_push_without_containerize_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match=r"^--push needs --containerize"):
        build_bento(
            tmp_path, churn_spec(), 1, tracking_uri=UNREACHABLE, push=True, image_repository=IMAGE_REPOSITORY
        )
    assert list(tmp_path.iterdir()) == []


def test_push_without_an_image_repository_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match=r"^--push needs an image repository"):
        build_bento(tmp_path, churn_spec(), 1, tracking_uri=UNREACHABLE, containerize=True, push=True)


def test_an_image_repository_that_is_not_ecr_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        PackageError, match=r"image repository 'ghcr.io/acme/modelcd' is not an ECR repository URI"
    ):
        build_bento(
            tmp_path, churn_spec(), 1, tracking_uri=UNREACHABLE, image_repository="ghcr.io/acme/modelcd"
        )


@pytest.mark.skipif(
    shutil.which("docker") is None, reason="needs the docker client (the engine may be absent)"
)
def test_containerize_without_a_docker_engine_fails_before_building(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(PackageError, match=r"^--containerize needs a Docker engine"):
        build_bento(
            tmp_path,
            churn_spec(),
            1,
            tracking_uri=UNREACHABLE,
            containerize=True,
            push=True,
            image_repository=IMAGE_REPOSITORY,
        )
    assert list(tmp_path.iterdir()) == []


def test_the_image_repository_is_the_one_all_sagemaker_environments_share(template_repo: GitRepo) -> None:
    config = load_repo(template_repo.path)
    assert image_repository_for(config, "churn") == IMAGE_REPOSITORY
    assert image_repository_for(config, "churn", "staging") == IMAGE_REPOSITORY


def test_differing_image_repositories_need_a_choice_to_build_an_image(template_repo: GitRepo) -> None:
    staging = template_repo.read("environments/staging.yaml")
    template_repo.write("environments/staging.yaml", staging.replace("/modelcd\n", "/modelcd-staging\n"))
    config = load_repo(template_repo.path)
    with pytest.raises(
        UsageError, match=r"environments use different image repositories .*choose one with --env"
    ):
        image_repository_for(config, "churn", required=True)
    assert image_repository_for(config, "churn") is None  # a Bento alone needs no repository
    assert image_repository_for(config, "churn", "staging") == IMAGE_REPOSITORY + "-staging"

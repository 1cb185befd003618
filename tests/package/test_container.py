"""Image publishing (cd/package/container.py): ECR login against moto, push, digests, no-Docker message."""

from __future__ import annotations

import base64
import shutil
import stat
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from cd.errors import PackageError
from cd.package import container
from cd.package.container import EcrRepository, RegistryLogin

REPOSITORY_URI = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/modelcd"
REPOSITORY = container.parse_image_repository(REPOSITORY_URI)
DIGEST = "sha256:" + "4f" * 32


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def test_an_ecr_repository_uri_is_split_into_account_region_and_name() -> None:
    expected = EcrRepository(uri=REPOSITORY_URI, account="123456789012", region="eu-west-1", name="modelcd")
    assert expected == REPOSITORY
    assert REPOSITORY.registry == "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


@pytest.mark.parametrize("uri", [f"{REPOSITORY_URI}:latest", "docker.io/library/python", "modelcd"])
def test_anything_but_a_bare_ecr_repository_uri_is_refused(uri: str) -> None:
    with pytest.raises(PackageError, match="is not an ECR repository URI"):
        container.parse_image_repository(uri)


@mock_aws
def test_ecr_login_uses_get_authorization_token_of_the_repository_account(aws_credentials: None) -> None:
    login = container.ecr_login(REPOSITORY)
    assert login == RegistryLogin(
        username="AWS",
        password="123456789012-auth-token",
        registry="123456789012.dkr.ecr.eu-west-1.amazonaws.com",
    )
    assert "auth-token" not in repr(login)


@mock_aws
def test_ecr_login_accepts_an_injected_client(aws_credentials: None) -> None:
    client = boto3.client("ecr", region_name="us-east-1")
    assert container.ecr_login(REPOSITORY, client).registry == "123456789012.dkr.ecr.us-east-1.amazonaws.com"


def test_a_token_without_user_and_password_is_refused() -> None:
    token = base64.b64encode(b"no-separator").decode()
    with pytest.raises(PackageError, match="a token without `user:password`"):
        container.login_from_token({"authorizationToken": token, "proxyEndpoint": "https://x"})


def test_ecr_login_failure_names_the_call(aws_credentials: None) -> None:
    client = boto3.client("ecr", region_name="eu-west-1", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(
        PackageError,
        match=r"ecr.get_authorization_token for 123456789012.dkr.ecr.eu-west-1.amazonaws.com failed",
    ):
        container.ecr_login(REPOSITORY, client)


def test_the_digest_of_the_pushed_repository_is_picked_from_repo_digests() -> None:
    digests = [f"other.example/modelcd@sha256:{'0' * 64}", f"{REPOSITORY_URI}@{DIGEST}"]
    assert container.digest_from_repo_digests(digests, REPOSITORY) == DIGEST
    assert container.digest_reference(REPOSITORY, DIGEST) == f"{REPOSITORY_URI}@{DIGEST}"


def test_no_digest_for_the_repository_is_an_error() -> None:
    with pytest.raises(PackageError, match="docker lists no digest for"):
        container.digest_from_repo_digests([], REPOSITORY)


def test_a_malformed_digest_is_refused() -> None:
    with pytest.raises(PackageError, match="is not an image digest"):
        container.digest_reference(REPOSITORY, "sha256:xyz")


# --------------------------------------------------------------------------- docker, as a process


def fake_docker(tmp_path: Path) -> tuple[Path, Path]:
    """A stand-in `docker` CLI (an external tool) that logs its calls and answers like docker does."""
    log = tmp_path / "docker.log"
    script = tmp_path / "docker"
    script.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "ARGS $*" >> {log}\n'
        f'if [ "$1" = login ]; then echo "STDIN $(cat)" >> {log}; echo "Login Succeeded"; fi\n'
        'if [ "$1" = push ]; then echo "latest: digest: ' + DIGEST + ' size: 1234"; fi\n'
        f'if [ "$1" = image ]; then echo \'["{REPOSITORY_URI}@{DIGEST}"]\'; fi\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, log


def test_push_logs_in_with_password_on_stdin_pushes_and_returns_the_digest_reference(tmp_path: Path) -> None:
    docker, log = fake_docker(tmp_path)
    image = f"{REPOSITORY_URI}:churn-v3-f506258d8d39"
    login = RegistryLogin("AWS", "s3cret", REPOSITORY.registry)
    assert container.push_image(image, REPOSITORY, login, docker=str(docker)) == f"{REPOSITORY_URI}@{DIGEST}"
    assert log.read_text().splitlines() == [
        f"ARGS login --username AWS --password-stdin {REPOSITORY.registry}",
        "STDIN s3cret",
        f"ARGS push {image}",
        f"ARGS image inspect --format {{{{json .RepoDigests}}}} {image}",
    ]


def test_a_failed_push_names_the_command(tmp_path: Path) -> None:
    docker = tmp_path / "docker"
    docker.write_text("#!/usr/bin/env bash\necho 'denied: not authorized' >&2\nexit 1\n")
    docker.chmod(0o755)
    with pytest.raises(
        PackageError,
        match=r"docker login 123456789012.dkr.ecr.eu-west-1.amazonaws.com failed \(exit 1\): denied",
    ):
        container.push_image(
            "img", REPOSITORY, RegistryLogin("AWS", "x", REPOSITORY.registry), docker=str(docker)
        )


@pytest.mark.skipif(
    shutil.which("docker") is None, reason="needs the docker client (the engine may be absent)"
)
def test_without_a_docker_engine_containerize_says_what_to_run_where(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(PackageError) as caught:
        container.require_docker("churn", 3)
    message = str(caught.value)
    assert message.startswith(
        "--containerize needs a Docker engine, and the Docker engine is not reachable ("
    )
    assert "in GitHub Actions" in message
    assert "`modelcd build --model churn --version 3 --containerize --push`" in message
    assert (
        "Without --containerize, `modelcd build --model churn --version 3` builds and exports the Bento offline."
        in message
    )


def test_without_a_docker_command_containerize_says_so(tmp_path: Path) -> None:
    with pytest.raises(
        PackageError, match=r"--containerize needs a Docker engine, and no `.*/docker` command on PATH"
    ):
        container.require_docker("churn", 3, docker=str(tmp_path / "docker"))


def test_containerize_builds_a_linux_amd64_image_of_the_bento_tag() -> None:
    assert container.containerize_argv("churn:v3-abc", f"{REPOSITORY_URI}:churn-v3-abc") == [
        sys.executable,
        "-m",
        "bentoml",
        "containerize",
        "churn:v3-abc",
        "-t",
        f"{REPOSITORY_URI}:churn-v3-abc",
        "--platform",
        "linux/amd64",
    ]


# --------------------------------------------------------------------------- the base image, by digest

BASE_DIGEST = "sha256:" + "5b" * 32
DOCKERFILE = (
    "# syntax = docker/dockerfile:1.4-labs\n\nFROM python:3.11-slim AS base-container\n\nENV LANG=C.UTF-8\n"
)


def test_the_base_image_is_read_from_the_bentos_dockerfile() -> None:
    assert container.dockerfile_base_image(DOCKERFILE, "env/docker/Dockerfile") == "python:3.11-slim"


def test_a_dockerfile_without_the_base_stage_is_refused_naming_it() -> None:
    with pytest.raises(
        PackageError, match=r"^env/docker/Dockerfile: no `FROM <image> AS base-container` line"
    ):
        container.dockerfile_base_image("FROM scratch\n", "env/docker/Dockerfile")


@pytest.mark.parametrize(
    "listed",
    [f"python@{BASE_DIGEST}", f"docker.io/library/python@{BASE_DIGEST}"],
)
def test_a_tag_is_pinned_to_the_digest_docker_lists_for_its_repository(listed: str) -> None:
    others = [f"{REPOSITORY_URI}@{DIGEST}"]
    assert container.pinned_reference("python:3.11-slim", [*others, listed]) == listed


def test_a_base_image_docker_lists_no_digest_for_is_refused() -> None:
    with pytest.raises(PackageError, match=r"docker lists no digest for the base image python:3.11-slim"):
        container.pinned_reference("python:3.11-slim", [f"{REPOSITORY_URI}@{DIGEST}"])


def test_pin_base_image_pulls_for_sagemakers_platform_and_reads_the_digest(tmp_path: Path) -> None:
    log = tmp_path / "docker.log"
    docker = tmp_path / "docker"
    docker.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >> {log}\n'
        f'if [ "$1" = image ]; then echo \'["python@{BASE_DIGEST}"]\'; fi\n'
    )
    docker.chmod(0o755)
    assert container.pin_base_image("python:3.11-slim", docker=str(docker)) == f"python@{BASE_DIGEST}"
    assert log.read_text().splitlines() == [
        "pull --platform linux/amd64 python:3.11-slim",
        "image inspect --format {{json .RepoDigests}} python:3.11-slim",
    ]


def test_containerize_builds_from_the_pinned_base_through_a_named_context() -> None:
    argv = container.containerize_argv(
        "churn:v3-abc", "img:tag", ("python:3.11-slim", f"python@{BASE_DIGEST}")
    )
    assert argv[-2:] == ["--opt", f"build-context=python:3.11-slim=docker-image://python@{BASE_DIGEST}"]

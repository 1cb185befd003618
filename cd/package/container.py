"""Image adapter: `bentoml containerize`, ECR login through boto3, `docker push`, the pushed digest.

Deployments reference images by digest (`<repository>@sha256:...`), never by tag: a tag can be moved,
a digest cannot. Without a Docker engine (a laptop without Docker, this sandbox) nothing here can run;
`require_docker` says so before any work starts, and what to run where instead.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from cd.errors import PackageError

_ECR = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<name>[a-z0-9][a-z0-9._/-]*)$"
)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
DOCKER_TIMEOUT_SECONDS = 1800
IMAGE_PLATFORM = "linux/amd64"


@dataclass(frozen=True)
class EcrRepository:
    """`123456789012.dkr.ecr.eu-west-1.amazonaws.com/modelcd` in parts."""

    uri: str
    account: str
    region: str
    name: str

    @property
    def registry(self) -> str:
        return self.uri.split("/", 1)[0]


@dataclass(frozen=True)
class RegistryLogin:
    username: str
    password: str
    registry: str  # host name, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com

    def __repr__(self) -> str:  # never print the password
        return f"RegistryLogin(username={self.username!r}, registry={self.registry!r})"


def parse_image_repository(uri: str) -> EcrRepository:
    """An ECR repository URI (no tag, no digest) in parts; PackageError for anything else."""
    match = _ECR.match(uri.strip())
    if not match:
        raise PackageError(
            f"image repository {uri!r} is not an ECR repository URI "
            "(<account>.dkr.ecr.<region>.amazonaws.com/<name>, without tag or digest)"
        )
    return EcrRepository(
        uri=uri.strip(), account=match["account"], region=match["region"], name=match["name"]
    )


def login_from_token(authorization_data: dict[str, Any]) -> RegistryLogin:
    """One `authorizationData` item of `ecr.get_authorization_token` -> user, password, registry host."""
    try:
        decoded = base64.b64decode(authorization_data["authorizationToken"]).decode()
    except (KeyError, ValueError) as exc:
        raise PackageError(f"ecr.get_authorization_token returned an unreadable token ({exc})") from None
    username, sep, password = decoded.partition(":")
    if not sep or not password:
        raise PackageError("ecr.get_authorization_token returned a token without `user:password`")
    registry = str(authorization_data.get("proxyEndpoint", "")).removeprefix("https://").rstrip("/")
    return RegistryLogin(username=username, password=password, registry=registry)


def ecr_login(repository: EcrRepository, client: Any = None) -> RegistryLogin:
    """Credentials for `docker login` to the repository's registry, from `ecr.get_authorization_token`."""
    if client is None:
        import boto3

        from cd.aws import client_config

        client = boto3.client("ecr", region_name=repository.region, config=client_config())
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = client.get_authorization_token(registryIds=[repository.account])
    except (ClientError, BotoCoreError) as exc:
        from cd.aws import credentials_error

        credentials = credentials_error(exc, f"ecr.get_authorization_token for {repository.registry}")
        if credentials is not None:
            raise credentials from exc
        raise PackageError(
            f"ecr.get_authorization_token for {repository.registry} failed: {exc}; "
            "check the AWS credentials (OIDC role in Actions) allow ecr:GetAuthorizationToken"
        ) from exc
    items = response.get("authorizationData") or []
    if not items:
        raise PackageError(
            f"ecr.get_authorization_token for {repository.registry} returned no authorization data"
        )
    login = login_from_token(items[0])
    return login if login.registry else RegistryLogin(login.username, login.password, repository.registry)


def digest_reference(repository: EcrRepository, digest: str) -> str:
    """`<repository>@sha256:...`, the only form deployments use."""
    if not _DIGEST.match(digest):
        raise PackageError(f"{digest!r} is not an image digest (sha256:<64 hex>)")
    return f"{repository.uri}@{digest}"


def digest_from_repo_digests(repo_digests: list[str], repository: EcrRepository) -> str:
    """The digest `docker inspect` lists for `repository` (RepoDigests: ["<repo>@sha256:..."])."""
    for entry in repo_digests:
        name, _, digest = entry.partition("@")
        if name == repository.uri and _DIGEST.match(digest):
            return digest
    raise PackageError(
        f"docker lists no digest for {repository.uri} after the push (RepoDigests: {repo_digests})"
    )


# ----------------------------------------------------------------------------- docker (processes)


def docker_engine_problem(docker: str = "docker") -> str | None:
    """None when a Docker engine answers; otherwise why not, in one line."""
    try:
        done = subprocess.run(
            [docker, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except FileNotFoundError:
        return f"no `{docker}` command on PATH"
    except subprocess.TimeoutExpired:
        return f"`{docker} version` did not answer within 30s"
    if done.returncode != 0 or not done.stdout.strip():
        last = (done.stderr.strip().splitlines() or ["no server version"])[-1]
        return f"the Docker engine is not reachable ({last})"
    return None


def require_docker(model: str, version: int, docker: str = "docker") -> None:
    """PackageError saying what to run where, when `--containerize` cannot work here."""
    problem = docker_engine_problem(docker)
    if problem is None:
        return
    raise PackageError(
        f"--containerize needs a Docker engine, and {problem}. "
        f"Build the image where Docker runs: in GitHub Actions (the deploy workflow's build job runs "
        f"`modelcd build --model {model} --version {version} --containerize --push` on ubuntu-latest, "
        f"with AWS credentials from OIDC), or start Docker here and rerun the same command. "
        f"Without --containerize, `modelcd build --model {model} --version {version}` builds and exports "
        "the Bento offline."
    )


def _docker(argv: list[str], what: str, stdin: str | None = None) -> str:
    try:
        done = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, timeout=DOCKER_TIMEOUT_SECONDS, check=False
        )
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        raise PackageError(f"{what} failed: {exc}") from exc
    if done.returncode != 0:
        detail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise PackageError(f"{what} failed (exit {done.returncode}): {detail}")
    return done.stdout


_FROM = re.compile(r"^FROM\s+(\S+)\s+AS\s+base-container\s*$", re.MULTILINE | re.IGNORECASE)


def dockerfile_base_image(dockerfile: str, where: str) -> str:
    """The image BentoML's Dockerfile builds FROM (`FROM python:3.11-slim AS base-container`)."""
    match = _FROM.search(dockerfile)
    if match is None:
        raise PackageError(f"{where}: no `FROM <image> AS base-container` line; cannot pin its base image")
    return match.group(1)


def pinned_reference(image: str, repo_digests: list[str]) -> str:
    """`image` (a tag) pinned to the digest docker lists for its repository: `<repo>@sha256:...`."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    repository = name[: len(name) - len(last)] + last.split(":", 1)[0]
    for entry in repo_digests:
        repo, _, digest = entry.partition("@")
        if repo.removeprefix("docker.io/").removeprefix("library/") == repository.removeprefix(
            "docker.io/"
        ).removeprefix("library/") and _DIGEST.match(digest):
            return f"{repo}@{digest}"
    raise PackageError(f"docker lists no digest for the base image {image} (RepoDigests: {repo_digests})")


def pin_base_image(image: str, docker: str = "docker") -> str:
    """Pull the base image for SageMaker's platform and return it by digest: the image is built FROM that
    digest (a BuildKit named context), so a tag moved upstream cannot change what a build runs on."""
    _docker([docker, "pull", "--platform", IMAGE_PLATFORM, image], f"docker pull {image}")
    out = _docker(
        [docker, "image", "inspect", "--format", "{{json .RepoDigests}}", image],
        f"docker image inspect {image}",
    )
    try:
        repo_digests = json.loads(out.strip() or "[]")
    except json.JSONDecodeError:
        raise PackageError(f"docker image inspect {image}: unreadable RepoDigests {out.strip()!r}") from None
    return pinned_reference(image, list(repo_digests or []))


def containerize_argv(bento_tag: str, image_tag: str, base: tuple[str, str] | None = None) -> list[str]:
    """`bentoml containerize BENTO -t IMAGE --platform linux/amd64` (SageMaker's x86 instances); with
    `base` (the Dockerfile's FROM image, its pinned digest reference), the FROM image is replaced by
    that digest through a BuildKit named context (`--build-context <from>=docker-image://<digest>`)."""
    argv = [
        sys.executable,
        "-m",
        "bentoml",
        "containerize",
        bento_tag,
        "-t",
        image_tag,
        "--platform",
        IMAGE_PLATFORM,
    ]
    if base is not None:
        argv += ["--opt", f"build-context={base[0]}=docker-image://{base[1]}"]
    return argv


def containerize(
    bento_tag: str, image_tag: str, env: dict[str, str], base: tuple[str, str] | None = None
) -> None:
    """Build the image from the Bento (BentoML's own Dockerfile; ENTRYPOINT entrypoint.sh)."""
    argv = containerize_argv(bento_tag, image_tag, base)
    try:
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=DOCKER_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise PackageError(f"bentoml containerize {bento_tag} took over {DOCKER_TIMEOUT_SECONDS}s") from exc
    if done.returncode != 0:
        detail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise PackageError(f"bentoml containerize {bento_tag} -t {image_tag} failed: {detail}")


def push_image(
    image_tag: str, repository: EcrRepository, login: RegistryLogin, docker: str = "docker"
) -> str:
    """Log in, push `image_tag`, and return its digest reference `<repository>@sha256:...`."""
    _docker(
        [docker, "login", "--username", login.username, "--password-stdin", login.registry],
        f"docker login {login.registry}",
        stdin=login.password,
    )
    _docker([docker, "push", image_tag], f"docker push {image_tag}")
    out = _docker(
        [docker, "image", "inspect", "--format", "{{json .RepoDigests}}", image_tag], "docker image inspect"
    )
    try:
        repo_digests = json.loads(out.strip() or "[]")
    except json.JSONDecodeError:
        raise PackageError(
            f"docker image inspect {image_tag}: unreadable RepoDigests {out.strip()!r}"
        ) from None
    return digest_reference(repository, digest_from_repo_digests(list(repo_digests or []), repository))

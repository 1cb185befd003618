"""`modelcd build` (`build_model`, `build_bento`): registry model version -> exported Bento + build record (+ image, where Docker runs)."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from cd.config.model import Column, ModelSpec, RepoConfig, SageMakerTargetConfig
from cd.errors import PackageError, UsageError
from cd.files import file_sha256
from cd.package import container, context
from cd.package.bento import (
    bentoml_env,
    make_reproducible,
    run_build,
    source_date_epoch,
    stored_bento_sha256,
)
from cd.package.record import BuildRecord, write_record

if TYPE_CHECKING:
    from cd.workspace import Workspace

DEFAULT_OUT_DIR = "dist"
DEFAULT_BENTOML_HOME = Path(".modelcd") / "bentoml"


def default_bentoml_home(repo_root: Path) -> Path:
    """BentoML's stores for this repository: `<repo>/.modelcd/bentoml` (never the shared ~/bentoml)."""
    return repo_root / DEFAULT_BENTOML_HOME


def build_bento(
    repo_root: Path,
    spec: ModelSpec,
    version: int,
    *,
    tracking_uri: str | None = None,
    out_dir: Path | None = None,
    image_repository: str | None = None,
    bentoml_home: Path | None = None,
    lock_packages: bool | None = None,
    max_body_bytes: int = context.DEFAULT_MAX_BODY_BYTES,
    containerize: bool = False,
    push: bool = False,
    smoke_test: bool = True,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> BuildRecord:
    """Build `spec` version `version` into `out_dir/<model>-v<N>.bento` and `<model>-v<N>.build.json`.

    The model comes from the MLflow registry at `tracking_uri` (default `$MLFLOW_TRACKING_URI` or the
    repository's sqlite store), checksum-verified. `lock_packages=None` decides from the environment
    (`context.lock_packages_default`). With `containerize`, the image is built (and with `push`, pushed
    to `image_repository` on ECR) and the record gains the image digest; both need Docker, checked
    before anything else is done.
    """
    from cd.registry import Registry, default_tracking_uri

    env = os.environ if environ is None else environ
    if push and not containerize:
        raise PackageError("--push needs --containerize (there is no image to push otherwise)")
    if containerize and lock_packages is False:
        raise PackageError(
            "--containerize with --no-lock: an image must pin every package it installs; drop --no-lock "
            "(the Bento's requirements are then locked against the index once, and later environments "
            "reuse this build)"
        )
    repository = container.parse_image_repository(image_repository) if image_repository else None
    if containerize:
        if push and repository is None:
            raise PackageError(
                "--push needs an image repository (environments' sagemaker target image_repository)"
            )
        container.require_docker(spec.name, version)
    lock = (
        True
        if containerize
        else context.lock_packages_default(env)
        if lock_packages is None
        else lock_packages
    )
    out = (out_dir or repo_root / DEFAULT_OUT_DIR).resolve()
    home = (bentoml_home or default_bentoml_home(repo_root)).resolve()
    registry = Registry(tracking_uri or default_tracking_uri(repo_root))

    ref = registry.resolve(spec.registered_model, version)
    names = context.BentoNames(spec.name, version, ref.sha256)
    out.mkdir(parents=True, exist_ok=True)
    # in the system temp dir: BentoML refuses build files below any hidden directory (".modelcd")
    work = Path(tempfile.mkdtemp(prefix=f"modelcd-build-{names.name}-v{version}-"))
    try:
        model_dir = registry.download(
            spec.registered_model, version, work / "mlflow_model", expected_sha256=ref.sha256
        )
        model = _mlflow_model_facts(model_dir, f"model {spec.registered_model!r} version {version}")
        example_file = model_dir / "serving_input_example.json"
        example = example_file.read_bytes() if example_file.is_file() else None
        columns = _serving_columns(spec, model["signature_inputs"], model["where"])
        requirements = context.pin_requirements(model["requirements"], installed_versions())
        labels = {
            "modelcd-model": spec.name,
            "modelcd-version": str(version),
            "modelcd-model-sha256": ref.sha256,
        }
        ctx = context.write_context(
            work / "context",
            context.service_config(spec, names, columns, max_body_bytes),
            requirements,
            context.bentofile(spec, names, model["python_version"], lock, labels),
        )
        result = run_build(
            {
                "model_tag": names.tag,
                "mlflow_model_dir": str(model_dir),
                "labels": labels,
                "metadata": {
                    "registered_model": spec.registered_model,
                    "version": version,
                    "sha256": ref.sha256,
                },
                "context_dir": str(ctx),
                "bento_version": names.bento_version,
                "export_path": str(out / names.archive_name),
            },
            home,
            work,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    archive = make_reproducible(out / names.archive_name, source_date_epoch())
    content_sha256 = _smoke_tested(home, result["bento_tag"], example, smoke_test)
    record = BuildRecord(
        model=spec.name,
        registered_model=spec.registered_model,
        version=version,
        bento_tag=result["bento_tag"],
        bento_archive=names.archive_name,
        bento_sha256=file_sha256(archive),
        bento_content_sha256=content_sha256,
        model_sha256=ref.sha256,
        model_source=ref.source,
        run_id=ref.run_id,
        requirements=tuple(line for line in result["requirements"].splitlines() if line.strip()),
        python_version=model["python_version"],
        bentoml_version=importlib.metadata.version("bentoml"),
        mlflow_version=_mlflow_version(),
        locked=lock,
        image_tag=names.image_tag(repository.uri) if repository else None,
        created_at=clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    write_record(record, out / names.record_name)
    if containerize:
        record = _image(record, home, repository if push else None)
        write_record(record, out / names.record_name)
    return record


def _image(record: BuildRecord, home: Path, push_to: container.EcrRepository | None) -> BuildRecord:
    """Build the Bento's image FROM its base image pinned by digest (and push it): the record gains the
    base image's digest and, once pushed, the image's."""
    from cd.package.environment import bento_dir

    image_tag = record.image_tag or record.bento_tag  # without a repository: a local image only
    dockerfile = bento_dir(home, record.bento_tag) / "env" / "docker" / "Dockerfile"
    base = container.dockerfile_base_image(dockerfile.read_text(), str(dockerfile))
    pinned = container.pin_base_image(base)
    container.containerize(record.bento_tag, image_tag, {**os.environ, **bentoml_env(home)}, (base, pinned))
    if push_to is None:
        return record.with_image(record.image_tag, None, pinned)
    digest = container.push_image(image_tag, push_to, container.ecr_login(push_to))
    return record.with_image(image_tag, digest, pinned)


def image_repository_for(
    config: RepoConfig, model: str, environment: str | None = None, *, required: bool = False
) -> str | None:
    """The ECR repository the model's image goes to: the named environment's, else the one every
    SageMaker environment shares; None when no environment deploys to SageMaker, or when they differ
    and the repository is not `required` (only the planned image tag is missing then)."""
    if environment is not None:
        env = config.environments.get(environment)
        if env is None:
            known = ", ".join(sorted(config.environments)) or "none"
            raise UsageError(
                f"no environment {environment!r} (environments/{environment}.yaml); known: {known}"
            )
        if not isinstance(env.target, SageMakerTargetConfig):
            raise UsageError(
                f"--env {environment}: target is {env.target.kind}, which has no image repository"
            )
        return env.target.image_repository
    repositories = sorted(
        {
            e.target.image_repository
            for e in config.environments.values()
            if isinstance(e.target, SageMakerTargetConfig)
        }
    )
    if len(repositories) > 1:
        if not required:
            return None
        raise UsageError(
            f"environments use different image repositories ({', '.join(repositories)}); "
            f"choose one with --env or --image-repository for {model}"
        )
    return repositories[0] if repositories else None


def installed_versions() -> dict[str, str]:
    """Normalised distribution name -> version, for everything installed in this interpreter."""
    versions: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            versions.setdefault(re.sub(r"[-_.]+", "-", name).lower(), dist.version)
    return versions


def _smoke_tested(home: Path, bento_tag: str, example: bytes | None, smoke_test: bool) -> str:
    """The store's content hash of the Bento, once it started in its own environment and answered
    its model's input example (`smoke_test`); PackageError, and no record, when it does not."""
    from cd.package.environment import ENVIRONMENTS_DIR
    from cd.package.smoke import smoke_test as run_smoke_test

    if smoke_test:
        run_smoke_test(home, bento_tag, example, home.parent / ENVIRONMENTS_DIR)
    return stored_bento_sha256(home, bento_tag)


def _mlflow_version() -> str:
    """The installed MLflow: the full package (dev, demo) or the client alone (`make install`)."""
    for name in ("mlflow", "mlflow-skinny"):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    raise PackageError("MLflow is not installed: install modelcd with `make install`")


def _mlflow_model_facts(model_dir: Path, where: str) -> dict[str, Any]:
    """Requirements, Python version and signature inputs of a downloaded MLflow model directory."""
    from mlflow.models import Model

    try:
        mlmodel = Model.load(str(model_dir))
    except Exception as exc:
        raise PackageError(f"{where}: not an MLflow model ({exc})") from exc
    if "python_function" not in mlmodel.flavors:
        raise PackageError(f"{where}: has no python_function flavour; BentoML's MLflow integration needs one")
    requirements_file = model_dir / "requirements.txt"
    if not requirements_file.is_file():
        raise PackageError(
            f"{where}: no requirements.txt in the model; log it with mlflow>=1.20 to pin its packages"
        )
    python_version = f"{sys.version_info.major}.{sys.version_info.minor}"
    env_file = model_dir / "python_env.yaml"
    if env_file.is_file():
        declared = str((yaml.safe_load(env_file.read_text()) or {}).get("python", ""))
        if re.match(r"^\d+\.\d+", declared):
            python_version = ".".join(declared.split(".")[:2])
    signature_inputs: list[dict[str, Any]] = []
    if mlmodel.signature is not None and mlmodel.signature.inputs is not None:
        signature_inputs = list(mlmodel.signature.inputs.to_dict())
    return {
        "where": where,
        "requirements": requirements_file.read_text().splitlines(),
        "python_version": python_version,
        "signature_inputs": signature_inputs,
    }


def _serving_columns(
    spec: ModelSpec, signature_inputs: list[dict[str, Any]], where: str
) -> tuple[Column, ...]:
    """model.yaml's inputs (checked against the signature's names when both exist), else the signature's."""
    from cd.signature import signature_mismatch

    if not spec.inputs:
        return context.columns_from_signature(signature_inputs, where)
    mismatch = signature_mismatch(spec, signature_inputs, where)
    if mismatch is not None:
        raise PackageError(mismatch)
    return spec.inputs


@dataclass(frozen=True)
class BuildArgs:
    """What `modelcd build` was asked."""

    model: str
    version: int
    out_dir: Path | None = None
    env: str | None = None
    image_repository: str | None = None
    containerize: bool = False
    push: bool = False
    lock_packages: bool | None = None
    max_body_bytes: int = context.DEFAULT_MAX_BODY_BYTES
    smoke_test: bool = True
    reuse_release: bool = False  # take the build from the version's published release, if there is one


def build_model(ws: Workspace, args: BuildArgs) -> tuple[BuildRecord, Path]:
    """`modelcd build`: the Bento (and image) of a model version, and the directory it was written to.

    With `reuse_release`, a version already released is not built again: its release's build record and
    Bento (verified against the release's checksums and git's identity) are written out instead, so a
    later environment deploys the very image digest an earlier one ran."""
    spec = ws.model(args.model)
    out_dir = args.out_dir or ws.root / DEFAULT_OUT_DIR
    if args.reuse_release:
        reused = _released_build(ws, spec, args.version, out_dir)
        if reused is not None:
            return reused, out_dir
    repository = args.image_repository or image_repository_for(
        ws.config, args.model, args.env, required=args.containerize
    )
    record = build_bento(
        ws.root,
        spec,
        args.version,
        out_dir=out_dir,
        image_repository=repository,
        lock_packages=args.lock_packages,
        max_body_bytes=args.max_body_bytes,
        containerize=args.containerize,
        push=args.push,
        smoke_test=args.smoke_test,
    )
    return record, out_dir


def _released_build(ws: Workspace, spec: ModelSpec, version: int, out_dir: Path) -> BuildRecord | None:
    from cd.custody import Identity
    from cd.release.publisher import open_publisher
    from cd.release.records import fetch_released_build

    wanted = Identity(spec.name, spec.registered_model, version)
    found = fetch_released_build(open_publisher(ws), wanted, out_dir)
    if found is None:
        ws.say(f"{spec.name} v{version} has no release yet: building it")
        return None
    image = found.record.image_digest or "no image (built without --push)"
    ws.say(f"{spec.name} v{version} is released ({found.release_url}): reusing its build, {image}")
    return found.record

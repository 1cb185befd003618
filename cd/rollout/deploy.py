"""Wiring for `modelcd deploy`: from the repository's desired state to one controller run per model.

The CLI only parses arguments and renders; this module picks the target adapter, the image, the lease
owner and the alias setter, runs the controller, and writes the rollout records.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cd.config.model import Environment, RepoConfig
from cd.errors import RolloutError, UsageError
from cd.rollout.controller import AliasSetter, Clock, Controller, RolloutReport, Settings
from cd.rollout.decide import Desired
from cd.rollout.target import Target, VariantSpec


def default_owner() -> str:
    """The lease owner: stable across re-runs of one GitHub Actions run, else user@host.

    A re-run of a killed job (same GITHUB_RUN_ID) resumes its own rollout; a different run is refused
    while the lease holds.
    """
    run_id = os.environ.get("GITHUB_RUN_ID")
    raw = (
        f"gh-{os.environ.get('GITHUB_REPOSITORY', '')}-{run_id}"
        if run_id
        else f"{getpass.getuser()}@{socket.gethostname()}"
    )
    return re.sub(r"[^A-Za-z0-9 _.:/=+\-@]", "-", raw)[:128]


def make_target(env: Environment, root: Path) -> Target:
    """The adapter for the environment's target kind."""
    if env.target.kind == "sagemaker":
        from cd.rollout.sagemaker import SageMakerEndpoints

        retry_mode = os.environ.get("MODELCD_AWS_RETRY_MODE", "standard")
        if retry_mode not in ("standard", "adaptive"):
            raise UsageError(f"MODELCD_AWS_RETRY_MODE must be 'standard' or 'adaptive', not {retry_mode!r}")
        return SageMakerEndpoints.create(env.target.region, env.target.role_arn, retry_mode=retry_mode)  # type: ignore[arg-type]
    from cd.rollout.local.target import LocalTarget

    assert env.target.kind == "local"
    return LocalTarget.from_config(env.target, root)


def read_images(
    build_record: Path | None, image: str | None, models: list[str], target_kind: str = "sagemaker"
) -> dict[str, str]:
    """Model name -> what the target runs, from `--image` (one model) or a build record JSON.

    A build record from `modelcd build` names the Bento (`bento_tag`, what the local target serves) and,
    once pushed, the image by digest (`image_digest`, what SageMaker runs: never a tag). Hand-written
    records may also be `{"image": ...}` for one model or `{"models": {"<name>": {"image": ...}}}`.
    """
    if image is not None:
        if len(models) != 1:
            raise UsageError("--image applies to one model: add --model NAME")
        return {models[0]: image}
    if build_record is None:
        raise UsageError("say which image to deploy: --image <repo>@sha256:<digest> or --build-record FILE")
    try:
        data = json.loads(build_record.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{build_record}: cannot read build record: {exc}") from exc
    if "bento_tag" in data:
        images = {str(data.get("model")): _image_from_build(build_record, data, target_kind)}
    elif isinstance(data.get("models"), Mapping):
        images = {name: str(entry.get("image", "")) for name, entry in data["models"].items()}
    elif "image" in data and len(models) == 1:
        images = {models[0]: str(data["image"])}
    else:
        raise UsageError(
            f"{build_record}: expected a `modelcd build` record, 'image', or 'models: {{name: {{image}}}}'"
        )
    missing = [m for m in models if not images.get(m)]
    if missing:
        raise UsageError(f"{build_record}: no image for model(s) {', '.join(missing)}")
    return images


def environment(config: RepoConfig, name: str) -> Environment:
    """The environment named `name`; UsageError listing the known ones when there is none."""
    env = config.environments.get(name)
    if env is None:
        raise UsageError(f"no environment {name!r} (have: {', '.join(sorted(config.environments))})")
    return env


def images_from_build_dir(
    build_dir: Path, env: Environment, models: list[str], target_kind: str
) -> tuple[dict[str, str], list[str]]:
    """Images of the models whose build record for the version git wants is in `build_dir`, and a note
    for each model without one (not built in this run: nothing new to roll out)."""
    images: dict[str, str] = {}
    skipped: list[str] = []
    for name in models:
        if name not in env.models:
            raise UsageError(f"{env.path or env.name}: model {name!r} is not in environment {env.name}")
        version = env.models[name].version
        record = build_dir / f"{name}-v{version}.build.json"
        if record.is_file():
            images.update(read_images(record, None, [name], target_kind))
        else:
            skipped.append(
                f"{name} v{version}: no build record {record}; nothing new to roll out in {env.name}"
            )
    return images, skipped


def _image_from_build(path: Path, data: Mapping[str, object], target_kind: str) -> str:
    if target_kind == "local":
        return str(data["bento_tag"])
    digest = data.get("image_digest")
    if not digest:
        raise UsageError(
            f"{path}: the build of {data.get('model')} v{data.get('version')} has no image digest; SageMaker runs "
            "images by digest: run `modelcd build --containerize --push` (in the Actions deploy job) first"
        )
    return str(digest)


class DeployObserver(Protocol):
    """Told when each model's rollout starts and ends (GitHub deployment statuses, git sync, ...)."""

    def started(self, env: Environment, model: str, version: int) -> None: ...

    def finished(self, env: Environment, model: str, report: RolloutReport) -> None: ...


@dataclass(frozen=True)
class DeployRequest:
    root: Path
    env: str
    models: tuple[str, ...]  # empty: every model of the environment
    images: Mapping[str, str]
    owner: str
    git_sha: str = ""
    record_dir: Path | None = None


def deploy(
    config: RepoConfig,
    request: DeployRequest,
    *,
    target: Target | None = None,
    clock: Clock | None = None,
    settings: Settings | None = None,
    alias_setter_for: Callable[[str, str], AliasSetter | None] | None = None,
    observers: Sequence[DeployObserver] = (),
) -> list[RolloutReport]:
    """Run the controller for each requested model; write JSON + markdown records; return the reports."""
    env = environment(config, request.env)
    names = list(request.models) or sorted(env.models)
    unknown = [n for n in names if n not in env.models]
    if unknown:
        raise UsageError(
            f"{env.path or env.name}: model(s) {', '.join(unknown)} not in environment {env.name}"
        )
    target = target or make_target(env, request.root)
    reports = []
    for name in names:
        deployment = env.models[name]
        spec = VariantSpec(
            deployment.version,
            request.images[name],
            deployment.serving.instance_type,
            deployment.serving.instance_count,
        )
        registered = config.models[name].registered_model if name in config.models else name
        setter = alias_setter_for(registered, env.name) if alias_setter_for else None
        controller = Controller(
            target, env.rollout, clock=clock, settings=settings or Settings(), alias_setter=setter
        )
        desired = Desired(env.endpoint_name(name), name, spec, git_sha=request.git_sha, owner=request.owner)
        for observer in observers:
            observer.started(env, name, deployment.version)
        report = controller.run(desired)
        reports.append(report)
        for observer in observers:
            observer.finished(env, name, report)
        if request.record_dir is not None:
            write_record_files(request.record_dir, env.name, report)
    return reports


def write_record_files(directory: Path, env: str, report: RolloutReport) -> tuple[Path, Path]:
    """`<env>-<model>-v<version>.json` and `.md`, each written atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{env}-{report.model}-v{report.version}"
    paths = (directory / f"{stem}.json", directory / f"{stem}.md")
    for path, text in zip(paths, (report.to_json(), report.to_markdown()), strict=True):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    return paths


def registry_alias_setter(tracking_uri: str | None) -> Callable[[str, str], AliasSetter | None]:
    """Alias setters backed by `cd.registry.Registry`; none when no tracking URI is configured."""

    def for_model(registered: str, env: str) -> AliasSetter | None:
        if not tracking_uri:
            return None
        from cd.registry import Registry

        registry = Registry(tracking_uri)
        return lambda version: registry.set_alias(registered, env, version)

    return for_model


def failure_message(reports: list[RolloutReport]) -> str | None:
    bad = [r for r in reports if not r.ok]
    if not bad:
        return None
    return "; ".join(f"{r.endpoint}: v{r.version} {r.outcome}: {r.message}" for r in bad)


def raise_if_failed(reports: list[RolloutReport]) -> None:
    message = failure_message(reports)
    if message:
        raise RolloutError(message)

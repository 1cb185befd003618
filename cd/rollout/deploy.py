"""`modelcd deploy`: from the repository's desired state to one controller run per model.

The CLI only parses arguments and renders; this module picks the image, the lease owner and the alias
setter, runs the controller on the workspace's target, and writes the rollout records.
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
from typing import TYPE_CHECKING, Protocol

from cd.config.model import Environment, RepoConfig
from cd.errors import RolloutError, UsageError
from cd.files import write_atomic
from cd.rollout.controller import AliasSetter, Clock, Controller, RolloutReport, Settings
from cd.rollout.decide import Desired
from cd.rollout.target import Target, VariantSpec

if TYPE_CHECKING:
    from cd.workspace import Workspace


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


@dataclass(frozen=True)
class DeployArgs:
    """What `modelcd deploy` was asked: the environment, and where the images come from."""

    env: str
    models: tuple[str, ...] = ()  # empty: every model of the environment
    image: str | None = None
    build_record: Path | None = None
    build_dir: Path | None = None
    owner: str | None = None
    record_dir: Path = Path(".modelcd/rollouts")  # relative to the repository root unless absolute
    tracking_uri: str | None = None


def deploy_environment(ws: Workspace, args: DeployArgs) -> list[RolloutReport]:
    """Make the environment's endpoints match git: pick each model's image from the build records (or
    `--image`), then run the controller per model with GitHub deployment statuses and git sync."""
    from cd.rollout.github_sync import observers_for

    env = ws.environment(args.env)
    names = list(args.models) or sorted(env.models)
    if args.build_dir is not None:
        images, skipped = images_from_build_dir(args.build_dir, env, names, env.target.kind)
        for note in skipped:
            ws.say(note)
        if not images:
            return []
        names = list(images)
    else:
        images = read_images(args.build_record, args.image, names, env.target.kind)
    request = DeployRequest(
        ws.root,
        env.name,
        tuple(names),
        images,
        args.owner or default_owner(),
        ws.head_commit(),
        ws.root / args.record_dir,
    )
    return deploy(
        ws.config,
        request,
        target=ws.target(env),
        alias_setter_for=registry_alias_setter(args.tracking_uri),
        observers=observers_for(ws),
    )


def deploy(
    config: RepoConfig,
    request: DeployRequest,
    *,
    target: Target,
    clock: Clock | None = None,
    settings: Settings | None = None,
    alias_setter_for: Callable[[str, str], AliasSetter | None] | None = None,
    observers: Sequence[DeployObserver] = (),
) -> list[RolloutReport]:
    """Run the controller for each requested model; write JSON + markdown records; return the reports."""
    env = config.environments.get(request.env)
    if env is None:
        raise UsageError(f"no environment {request.env!r} (environments/{request.env}.yaml)")
    names = list(request.models) or sorted(env.models)
    unknown = [n for n in names if n not in env.models]
    if unknown:
        raise UsageError(
            f"{env.path or env.name}: model(s) {', '.join(unknown)} not in environment {env.name}"
        )
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
    stem = f"{env}-{report.model}-v{report.version}"
    return (
        write_atomic(directory / f"{stem}.json", report.to_json()),
        write_atomic(directory / f"{stem}.md", report.to_markdown()),
    )


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

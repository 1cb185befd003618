"""`modelcd deploy`: from the repository's desired state to one controller run per model.

The CLI only parses arguments and renders; this module picks the image, the lease owner and the alias
setter, runs the controller on the workspace's target, and writes the rollout records.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cd.config.model import Environment, ModelSpec, RepoConfig
from cd.custody import Identity, build_record_problems, refuse
from cd.errors import CustodyError, RolloutError, TargetError, UsageError
from cd.files import write_atomic
from cd.rollout.controller import AliasSetter, CaptureReader, Clock, Controller, RolloutReport, Settings
from cd.rollout.decide import Desired, Timing
from cd.rollout.owner import default_owner
from cd.rollout.target import Target, VariantSpec

if TYPE_CHECKING:
    from cd.workspace import Workspace


def read_images(
    build_record: Path | None,
    image: str | None,
    models: list[str],
    env: Environment,
    config: RepoConfig,
    bentoml_home: Path | None = None,
) -> dict[str, str]:
    """Model name -> what the target runs: `--image` (one model, pinned by digest), or what a
    `modelcd build` record names once it is verified against git (see `image_from_record`)."""
    experiments = [n for n in models if n in env.models and env.models[n].challengers]
    if experiments:
        raise UsageError(
            f"{env.path or env.name}: models.{experiments[0]}.challengers: an experiment deploys each of its "
            "versions; pass --build-dir with the build record of every one"
        )
    if image is not None:
        if len(models) != 1:
            raise UsageError("--image applies to one model: add --model NAME")
        return {models[0]: image}
    if build_record is None:
        raise UsageError("say which image to deploy: --image <repo>@sha256:<digest> or --build-record FILE")
    if len(models) != 1:
        raise UsageError(
            f"{build_record}: a build record names one model; add --model NAME (or use --build-dir)"
        )
    return {
        models[0]: image_from_record(build_record, wanted_identity(env, config, models[0]), env, bentoml_home)
    }


def wanted_identity(env: Environment, config: RepoConfig, model: str, version: int | None = None) -> Identity:
    """What git wants `env` to serve for `model`: its version, or `version` (one of its challengers)."""
    if model not in env.models:
        raise UsageError(f"{env.path or env.name}: model {model!r} is not in environment {env.name}")
    spec = config.models.get(model)
    wanted = env.models[model].version if version is None else version
    return Identity(model, spec.registered_model if spec else model, wanted)


def image_from_record(path: Path, wanted: Identity, env: Environment, bentoml_home: Path | None) -> str:
    """What the target runs from the build record at `path`, after checking the record is the build of
    the version git wants, with real content hashes, and that the Bento in the store (local) still hashes
    to what the build recorded. SageMaker runs the image by digest, never a tag."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot read build record: {exc}") from exc
    if not isinstance(data, dict) or "bento_tag" not in data:
        raise UsageError(f"{path}: not a `modelcd build` record")
    problems = build_record_problems(data, wanted, f"build record {path}")
    refuse(problems)
    if env.target.kind == "local":
        return _verified_bento(path, data, bentoml_home)
    digest = data.get("image_digest")
    if not digest:
        raise UsageError(
            f"{path}: the build of {data.get('model')} v{data.get('version')} has no image digest; SageMaker runs "
            "images by digest: run `modelcd build --containerize --push` (in the Actions deploy job) first"
        )
    if not re.fullmatch(r"[^@\s]+@sha256:[0-9a-f]{64}", str(digest)):
        raise CustodyError(f"{path}: image {digest!r} is not pinned by digest (<repository>@sha256:<64 hex>)")
    return str(digest)


def _verified_bento(path: Path, data: Mapping[str, object], bentoml_home: Path | None) -> str:
    from cd.package.bento import stored_bento_sha256

    tag = str(data["bento_tag"])
    recorded = str(data.get("bento_content_sha256") or "")
    if bentoml_home is None:
        return tag
    if not recorded:
        raise CustodyError(f"{path}: records no bento_content_sha256; rebuild it with `modelcd build`")
    actual = stored_bento_sha256(bentoml_home, tag)
    if actual != recorded:
        raise CustodyError(
            f"{path}: the Bento {tag} in {bentoml_home} hashes to {actual[:12]}…, but the build recorded "
            f"{recorded[:12]}…: it changed after the build; rebuild it"
        )
    return tag


def images_from_build_dir(
    build_dir: Path, env: Environment, models: list[str], config: RepoConfig, bentoml_home: Path | None = None
) -> tuple[dict[str, str], list[str]]:
    """Images of the models whose build record for the version git wants is in `build_dir`, and a note
    for each model without one (not built in this run: nothing new to roll out)."""
    images: dict[str, str] = {}
    skipped: list[str] = []
    for name in models:
        wanted = wanted_identity(env, config, name)
        record = build_dir / f"{name}-v{wanted.version}.build.json"
        if record.is_file():
            images[name] = image_from_record(record, wanted, env, bentoml_home)
        else:
            skipped.append(
                f"{name} v{wanted.version}: no build record {record}; nothing new to roll out in {env.name}"
            )
    return images, skipped


def challenger_images(
    build_dir: Path | None,
    env: Environment,
    models: Sequence[str],
    config: RepoConfig,
    bentoml_home: Path | None = None,
) -> dict[str, dict[int, str]]:
    """Model -> challenger version -> what the target runs, each from its verified build record in
    `build_dir` (an experiment deploys all its versions together: every record must be there)."""
    images: dict[str, dict[int, str]] = {}
    for name in models:
        for version in env.models[name].challengers:
            assert build_dir is not None  # `read_images` refuses an experiment without --build-dir
            record = build_dir / f"{name}-v{version}.build.json"
            if not record.is_file():
                raise RolloutError(
                    f"{env.path or env.name}: models.{name}.challengers names v{version}, but {build_dir} has no "
                    f"build record {record.name}: build it (`modelcd build --model {name} --version {version}`); "
                    "nothing was changed"
                )
            wanted = wanted_identity(env, config, name, version)
            images.setdefault(name, {})[version] = image_from_record(record, wanted, env, bentoml_home)
    return images


class DeployObserver(Protocol):
    """Told when each model's rollout starts and ends (GitHub deployment statuses, git sync, ...)."""

    def started(self, env: Environment, model: str, version: int) -> None: ...

    def finished(self, env: Environment, model: str, report: RolloutReport) -> None: ...

    def failed(self, env: Environment, model: str, version: int, error: str) -> None:
        """The rollout stopped on an error before it reached an outcome (it raised)."""
        ...


@dataclass(frozen=True)
class DeployRequest:
    root: Path
    env: str
    models: tuple[str, ...]  # empty: every model of the environment
    images: Mapping[str, str]
    owner: str
    git_sha: str = ""
    record_dir: Path | None = None
    # model -> challenger version -> image, for an experiment between more than two versions
    challenger_images: Mapping[str, Mapping[int, str]] = field(default_factory=dict)


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
    from cd.package import default_bentoml_home
    from cd.rollout.github_sync import observers_for

    env = ws.environment(args.env)
    names = list(args.models) or sorted(env.models)
    home = default_bentoml_home(ws.root) if env.target.kind == "local" else None
    if args.build_dir is not None:
        images, skipped = images_from_build_dir(args.build_dir, env, names, ws.config, home)
        for note in skipped:
            ws.say(note)
        if not images:
            return []
        names = list(images)
    else:
        images = read_images(args.build_record, args.image, names, env, ws.config, home)
    _refuse_what_upstream_does_not_serve(ws, env, names)
    request = DeployRequest(
        ws.root,
        env.name,
        tuple(names),
        images,
        args.owner or default_owner(),
        ws.head_commit(),
        ws.root / args.record_dir,
        challenger_images(args.build_dir, env, names, ws.config, home),
    )
    return deploy(
        ws.config,
        request,
        target=ws.target(env),
        alias_setter_for=registry_alias_setter(args.tracking_uri),
        observers=observers_for(ws),
    )


def _refuse_what_upstream_does_not_serve(ws: Workspace, env: Environment, names: Sequence[str]) -> None:
    """Live state first: a version enters `env` only once it is live in its `promote_from` (`cd.live`)."""
    from cd.live import observer_for, upstream_refusal

    observe = observer_for(ws)
    refusals = [
        refusal
        for name in names
        for version in env.models[name].versions
        if (
            refusal := upstream_refusal(
                ws.config, env, name, version, observe, challenger=version in env.models[name].challengers
            )
        )
    ]
    if refusals:
        raise RolloutError("; ".join(refusals) + "; nothing was changed")


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
        challengers = tuple(
            VariantSpec(
                version,
                _challenger_image(request, env, name, version),
                deployment.serving.instance_type,
                deployment.serving.instance_count,
            )
            for version in deployment.challengers
        )
        registered = config.models[name].registered_model if name in config.models else name
        setter = alias_setter_for(registered, env.name) if alias_setter_for else None
        controller = Controller(
            target,
            env.rollout,
            clock=clock,
            settings=settings or settings_for(target),
            alias_setter=setter,
            capture=capture_reader(env, config.models[name], request.root, _positive_label(config, name))
            if name in config.models
            else None,
        )
        desired = Desired(
            env.endpoint_name(name),
            name,
            spec,
            git_sha=request.git_sha,
            owner=request.owner,
            challengers=challengers,
        )
        # Already live as git says: nothing to tell (a no-op creates no GitHub deployment).
        told = () if _already_done(target, desired, env) else observers
        for observer in told:
            observer.started(env, name, deployment.version)
        try:
            report = controller.run(desired)
        except Exception as exc:  # every observer hears how it ended, then the error goes on
            for observer in told:
                observer.failed(env, name, deployment.version, str(exc))
            raise
        reports.append(report)
        for observer in told:
            observer.finished(env, name, report)
        if request.record_dir is not None:
            write_record_files(request.record_dir, env.name, report)
    return reports


def _challenger_image(request: DeployRequest, env: Environment, model: str, version: int) -> str:
    image = request.challenger_images.get(model, {}).get(version)
    if image is None:
        raise UsageError(
            f"{env.path or env.name}: models.{model}.challengers names v{version}, but no image was given for it"
        )
    return image


def capture_reader(
    env: Environment, spec: ModelSpec, root: Path, positive: object = None
) -> CaptureReader | None:
    """Reads the environment's data capture for the drift and live-quality checks, joined with the labels
    that arrived when a live-quality check asks (None: no check reads capture). `positive`: the gate's
    positive label."""
    analyses = env.rollout.analyses
    if env.monitoring.capture is None or not any(a.reads_capture for a in analyses):
        return None
    judge_quality = env.monitoring.ground_truth is not None and any(
        a.max_misclassification_increase is not None for a in analyses
    )

    def read(endpoint: str, variants: Sequence[str], start: float, end: float) -> Any:
        from cd.errors import MonitorError
        from cd.monitor.ground_truth import misclassified
        from cd.monitor.run import capture_source_at, ground_truth_at
        from cd.monitor.window import Problems, captured_samples, read_window

        try:
            source = capture_source_at(env, root)
            window = read_window(source, endpoint, start, end, spec.inputs, spec.task)
            labelled = None
            if judge_quality:  # the labels written since the window opened (`end` is the controller's now)
                labels = ground_truth_at(env, root, start, end + 1, Problems())
                labelled = [misclassified(window, v, labels, positive) for v in variants]
        except MonitorError as exc:
            raise TargetError(f"data capture unreadable: {exc}") from exc
        return captured_samples(window, variants, spec.inputs, labelled)

    return read


def _positive_label(config: RepoConfig, model: str) -> object:
    gate = config.gates.get(model)
    return None if gate is None else gate.dataset.positive_label


def _already_done(target: Target, desired: Desired, env: Environment) -> bool:
    """Whether the endpoint already serves what git asks, as the controller's first decision says."""
    import time

    from cd.rollout.decide import Done, as_decided, decide
    from cd.rollout.target import TargetError

    try:
        observed = target.observe(desired.endpoint)
    except TargetError:
        return False  # the controller meets the same error and reports it
    return isinstance(decide(as_decided(desired, observed), observed, env.rollout, None, time.time()), Done)


def settings_for(target: Target) -> Settings:
    """The controller's settings for a target: the analysis looks as often as its metrics arrive."""
    return Settings(timing=Timing(look_seconds=target.look_seconds))


def write_record_files(directory: Path, env: str, report: RolloutReport) -> tuple[Path, Path]:
    """`<env>-<model>-v<version>.json` and `.md`, each written atomically and only ever appended to: a
    later run of the same version (a re-run, a refused deploy, a reconcile) adds its decisions after the
    earlier ones, and `runs` lists every run's outcome. The top-level outcome is the latest run's."""
    stem = f"{env}-{report.model}-v{report.version}"
    json_path, md_path = directory / f"{stem}.json", directory / f"{stem}.md"
    data = json.loads(report.to_json())
    run = {"outcome": report.outcome, "message": report.message, "decisions": len(report.decisions)}
    earlier = _earlier_record(json_path)
    if earlier is not None:
        data["decisions"] = [*earlier.get("decisions", []), *data["decisions"]]
        data["runs"] = [*earlier.get("runs", []), run]
    else:
        data["runs"] = [run]
    markdown = report.to_markdown()
    if md_path.is_file():
        markdown = md_path.read_text() + "\n" + markdown
    return (
        write_atomic(json_path, json.dumps(data, indent=2, sort_keys=True)),
        write_atomic(md_path, markdown),
    )


def _earlier_record(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise RolloutError(
            f"{path}: the earlier rollout record is not JSON ({exc}); move it aside, it is not overwritten"
        ) from exc
    if not isinstance(data, dict):
        raise RolloutError(f"{path}: the earlier rollout record is not a JSON object; move it aside")
    if "runs" not in data:  # written before records were appended to: its one run
        data["runs"] = [
            {
                "outcome": data.get("outcome"),
                "message": data.get("message", ""),
                "decisions": len(data.get("decisions", [])),
            }
        ]
    return data


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

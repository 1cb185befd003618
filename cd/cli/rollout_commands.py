"""`modelcd deploy`, `status`, `abort`, `pause`, `resume`: thin wrappers over `cd.rollout`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from cd.cli.render import default_format


def _root(repo: str | None) -> Path:
    start = Path(repo or ".").resolve()
    if repo is None:
        try:
            from cd.gitrepo import toplevel

            return toplevel(start)
        except Exception:
            return start
    return start


def _load(root: Path):  # type: ignore[no-untyped-def]
    from cd.config import load_repo

    return load_repo(root)


def _env_option(f):  # type: ignore[no-untyped-def]
    f = click.option(
        "--repo", type=click.Path(file_okay=False), help="Repository root (default: git top level)."
    )(f)
    return click.option("--env", "env", required=True, help="Environment name (environments/<env>.yaml).")(f)


@click.command()
@_env_option
@click.option("--model", "models", multiple=True, help="Only this model (repeatable; default: all).")
@click.option("--image", help="Image to deploy, pinned by digest: <repo>@sha256:<digest> (one model).")
@click.option(
    "--build-record",
    type=click.Path(dir_okay=False, exists=True),
    help="Build record JSON naming the image(s).",
)
@click.option("--owner", help="Lease owner (default: the GitHub run id, else user@host).")
@click.option(
    "--record-dir",
    type=click.Path(file_okay=False),
    default=".modelcd/rollouts",
    show_default=True,
    help="Where the JSON and markdown rollout records go (relative to the repository).",
)
@click.option(
    "--tracking-uri", envvar="MLFLOW_TRACKING_URI", help="MLflow registry whose `<env>` alias mirrors git."
)
def deploy(
    env: str,
    repo: str | None,
    models: tuple[str, ...],
    image: str | None,
    build_record: str | None,
    owner: str | None,
    record_dir: str,
    tracking_uri: str | None,
) -> None:
    """Make the environment's endpoints match git: canary, analyse, finalize or roll back."""
    from cd.rollout import deploy as d

    root = _root(repo)
    config = _load(root)
    names = (
        list(models) or sorted(config.environments[env].models)
        if env in config.environments
        else list(models)
    )
    kind = config.environments[env].target.kind if env in config.environments else "sagemaker"
    images = d.read_images(Path(build_record) if build_record else None, image, names, kind)
    try:
        from cd.gitrepo import rev_parse

        sha = rev_parse(root, "HEAD")
    except Exception:
        sha = ""
    request = d.DeployRequest(
        root,
        env,
        tuple(models),
        images,
        owner or d.default_owner(),
        sha,
        (root / record_dir) if not Path(record_dir).is_absolute() else Path(record_dir),
    )
    from cd.rollout.github_sync import observers_from_env

    reports = d.deploy(
        config,
        request,
        alias_setter_for=d.registry_alias_setter(tracking_uri),
        observers=observers_from_env(root, say=click.echo),
    )
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    for report in reports:
        click.echo(f"{report.endpoint}: v{report.version} {report.outcome}: {report.message}")
        if summary:
            with open(summary, "a", encoding="utf-8") as fh:
                fh.write(report.to_markdown() + "\n")
    d.raise_if_failed(reports)


@click.command()
@_env_option
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default=None)
def status(env: str, repo: str | None, fmt: str | None) -> None:
    """What is live on each endpoint of the environment, and where a rollout stands."""
    from cd.rollout.deploy import make_target
    from cd.rollout.operate import endpoint_status

    root = _root(repo)
    environment = _environment(root, env)
    target = make_target(environment, root)
    rows = [endpoint_status(target, environment.endpoint_name(m)) for m in sorted(environment.models)]
    if (fmt or default_format()) == "json":
        click.echo(json.dumps([r.to_dict() for r in rows], indent=2, default=str))
        return
    for r, name in zip(rows, sorted(environment.models), strict=True):
        wanted = environment.models[name].version
        if not r.exists:
            click.echo(f"{r.endpoint}: not deployed (git wants v{wanted})")
            continue
        weights = ", ".join(f"{k} {v:g}" for k, v in (r.weights or {}).items())
        click.echo(f"{r.endpoint}: {r.status} [{weights}] (git wants v{wanted})")
        if r.state is not None:
            s = r.state
            click.echo(
                f"  rollout v{s.version} (stable v{s.stable_version}): {s.phase}, step {s.step_index}, "
                f"lease {s.lease_owner or '-'}; {s.reason}"
            )


def _environment(root: Path, env: str):  # type: ignore[no-untyped-def]
    from cd.errors import UsageError

    config = _load(root)
    if env not in config.environments:
        raise UsageError(f"no environment {env!r} (have: {', '.join(sorted(config.environments))})")
    return config.environments[env]


def _operator(verb: str):  # type: ignore[no-untyped-def]
    @click.command(name=verb, help=f"{verb.capitalize()} the rollout on the model's endpoint in ENV.")
    @_env_option
    @click.option("--model", required=True, help="Model name.")
    @click.option("--by", help="Who acts (recorded; default: user@host or the GitHub run).")
    def command(env: str, repo: str | None, model: str, by: str | None) -> None:
        from cd.rollout import operate
        from cd.rollout.deploy import default_owner, make_target

        root = _root(repo)
        environment = _environment(root, env)
        endpoint = environment.endpoint_name(model)
        state = getattr(operate, verb)(make_target(environment, root), endpoint, by=by or default_owner())
        click.echo(f"{endpoint}: rollout of v{state.version} is now {state.phase} ({state.reason})")

    return command


abort = _operator("abort")
pause = _operator("pause")
resume = _operator("resume")

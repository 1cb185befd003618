"""`modelcd deploy`, `status`, `abort`, `pause`, `resume`: parse, one call into `cd.rollout`, render."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cd.cli.options import env_option, repo_option, workspace
from cd.cli.render import default_format, describe_time
from cd.errors import RolloutError
from cd.github.actions import append_summary


@click.command()
@env_option()
@repo_option
@click.option("--model", "models", multiple=True, help="Only this model (repeatable; default: all).")
@click.option("--image", help="Image to deploy, pinned by digest: <repo>@sha256:<digest> (one model).")
@click.option(
    "--build-record",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Build record JSON naming the image(s).",
)
@click.option(
    "--build-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Directory of `modelcd build` records: deploys each model whose <model>-v<N>.build.json matches git.",
)
@click.option(
    "--owner",
    help="Lease owner (default: this run: gh:<repo>:<run id>:<attempt> in Actions, else user@host:pid).",
)
@click.option(
    "--record-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".modelcd/rollouts",
    show_default=True,
    help="Where the JSON and markdown rollout records go (relative to the repository).",
)
@click.option(
    "--tracking-uri", envvar="MLFLOW_TRACKING_URI", help="MLflow registry whose `<env>` alias mirrors git."
)
def deploy(
    env: str,
    repo: Path | None,
    models: tuple[str, ...],
    image: str | None,
    build_record: Path | None,
    build_dir: Path | None,
    owner: str | None,
    record_dir: Path,
    tracking_uri: str | None,
) -> None:
    """Make the environment's endpoints match git: canary, analyse, finalize or roll back."""
    from cd.rollout.deploy import DeployArgs, deploy_environment, raise_if_failed

    args = DeployArgs(env, models, image, build_record, build_dir, owner, record_dir, tracking_uri)
    reports = deploy_environment(workspace(repo), args)
    for report in reports:
        click.echo(f"{report.endpoint}: v{report.version} {report.outcome}: {report.message}")
        append_summary(report.to_markdown() + "\n")
    raise_if_failed(reports)


@click.command()
@env_option()
@repo_option
@click.option("--model", "models", multiple=True, help="Only this model (repeatable; default: all).")
@click.option(
    "--tracking-uri", envvar="MLFLOW_TRACKING_URI", help="MLflow registry whose `<env>` alias mirrors git."
)
def reconcile(env: str, repo: Path | None, models: tuple[str, ...], tracking_uri: str | None) -> None:
    """Take over every rollout in ENV that nobody watches: resume it, or roll it back if git moved on."""
    import time

    from cd.rollout.owner import default_owner
    from cd.rollout.reconcile import reconcile_environment

    looks = reconcile_environment(
        workspace(repo), env, models, owner=default_owner(), now=time.time(), tracking_uri=tracking_uri
    )
    for look in looks:
        click.echo(f"{look.endpoint}: {look.verdict}: {look.message}")
        if look.report is not None:
            click.echo(f"{look.endpoint}: {look.report.outcome}: {look.report.message}")
            append_summary(look.report.to_markdown() + "\n")
    bad = [f"{look.endpoint} {look.report.outcome}" for look in looks if not look.ok and look.report]
    if bad:
        raise RolloutError(f"reconcile took over rollouts that did not succeed: {', '.join(bad)}")


@click.command()
@env_option()
@repo_option
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default=None)
@click.option(
    "--explain",
    is_flag=True,
    help="Lineage of what is live: commit, PR, approvals, gate verdict, dataset, training run, build, "
    'image, release and rollout record, as recorded ("not recorded" otherwise).',
)
@click.option("--model", help="With --explain: one model of the environment.")
def status(env: str, repo: Path | None, fmt: str | None, explain: bool, model: str | None) -> None:
    """What is live on each endpoint of the environment, and where a rollout stands."""
    from cd.rollout.operate import environment_status

    if explain:
        from cd.lineage import trace_environment

        lineages = trace_environment(workspace(repo), env, [model] if model else None)
        if (fmt or default_format()) == "json":
            click.echo(json.dumps([item.to_dict() for item in lineages], indent=2))
        else:
            click.echo("".join(item.render() for item in lineages), nl=False)
        return
    rows = environment_status(workspace(repo), env)
    if (fmt or default_format()) == "json":
        click.echo(json.dumps([row.endpoint.to_dict() for row in rows], indent=2, default=str))
        return
    for row in rows:
        r = row.endpoint
        if not r.exists:
            click.echo(f"{r.endpoint}: not deployed (git wants v{row.wanted_version})")
            continue
        weights = ", ".join(f"{k} {v:g}" for k, v in (r.weights or {}).items())
        click.echo(f"{r.endpoint}: {r.status} [{weights}] (git wants v{row.wanted_version})")
        if r.state is not None:
            s = r.state
            lease = f"{s.lease_owner} until {describe_time(s.lease_expires_at)}" if s.lease_owner else "-"
            stable = "first deploy" if s.stable_version is None else f"stable v{s.stable_version}"
            click.echo(
                f"  rollout v{s.version} ({stable}): {s.phase}, steps done: {s.step_index}, lease {lease}; {s.reason}"
            )
            if s.evidence:
                click.echo(f"  last analysis: {s.evidence}")


def _operator(verb: str) -> click.Command:
    @click.command(name=verb, help=f"{verb.capitalize()} the rollout on the model's endpoint in ENV.")
    @env_option()
    @repo_option
    @click.option("--model", required=True, help="Model name.")
    @click.option("--by", help="Who acts (recorded; default: user@host or the GitHub run).")
    def command(env: str, repo: Path | None, model: str, by: str | None) -> None:
        from cd.rollout.operate import operate
        from cd.rollout.owner import default_owner

        owner = default_owner()
        result = operate(workspace(repo), verb, env, model, by or owner, owner)  # type: ignore[arg-type]
        state = result.state
        click.echo(f"{result.endpoint}: rollout of v{state.version} is now {state.phase} ({state.reason})")
        if result.rollback is not None:
            click.echo(f"{result.endpoint}: {result.rollback.outcome}: {result.rollback.message}")
            if not result.rollback.ok and result.rollback.outcome != "rolled_back":
                raise RolloutError(f"{result.endpoint}: the rollback ended {result.rollback.outcome}")

    return command


abort = _operator("abort")
pause = _operator("pause")
resume = _operator("resume")

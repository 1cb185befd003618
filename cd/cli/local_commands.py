"""`modelcd local status` and `modelcd local down`: the local target's router and variant processes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import click

from cd.cli.options import repo_option, workspace
from cd.cli.render import describe_time
from cd.errors import RolloutError
from cd.rollout.record import RolloutState, decode


def _state_dirs(repo: Path | None, state_dirs: tuple[str, ...]) -> tuple[Path, ...]:
    if state_dirs:
        return tuple(Path(d).resolve() for d in state_dirs)
    from cd.rollout.local.runtime import state_dirs_of_repo

    return state_dirs_of_repo(workspace(repo).root)


_state_dir_option = click.option(
    "--state-dir",
    "state_dirs",
    multiple=True,
    type=click.Path(file_okay=False),
    help="A local target state directory (repeatable; default: those of the repository's local environments).",
)


@click.group()
def local() -> None:
    """The local serving target: Bento processes behind a weighted router on 127.0.0.1."""


@local.command()
@repo_option
@_state_dir_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def status(repo: Path | None, state_dirs: tuple[str, ...], fmt: str) -> None:
    """Show the router, each endpoint's variants (port, pid, weight, alive) and rollout records."""
    from cd.rollout.local.runtime import status as local_status

    reports = [local_status(d) for d in _state_dirs(repo, state_dirs)]
    if fmt == "json":
        click.echo(json.dumps([r.to_json() for r in reports], indent=2))
        return
    for report in reports:
        click.echo(f"state: {report.state_dir}")
        if report.router_url is None and not report.processes:
            click.echo("  nothing running")
            continue
        click.echo(f"  router: {report.router_url or '-'} ({'up' if report.router_up else 'down'})")
        for p in report.processes:
            if p.role == "router":
                continue
            weight = "-" if p.weight is None else f"{p.weight:g}"
            state = "running" if p.alive else "NOT RUNNING"
            click.echo(
                f"  {p.endpoint} {p.variant}: weight {weight}, port {p.port}, pid {p.pid} {state}"
                + (f", {p.image}" if p.image else "")
                + ("" if p.weight is not None else " (leftover)")
            )
        for endpoint, record in sorted(report.records.items()):
            rollout = _decoded(record)
            if rollout is None and record:
                fields = ", ".join(f"{k}={v}" for k, v in sorted(record.items()))
                click.echo(f"  {endpoint} record: {fields}")
            elif rollout is not None:
                r = rollout
                lease = (
                    f", lease {r.lease_owner} until {describe_time(r.lease_expires_at)}"
                    if r.lease_owner
                    else ""
                )
                stable = "first deploy" if r.stable_version is None else f"stable v{r.stable_version}"
                click.echo(
                    f"  {endpoint} rollout v{r.version} ({stable}): {r.phase}, "
                    f"steps done: {r.step_index}{lease}; {r.reason}"
                )


def _decoded(record: Mapping[str, str]) -> RolloutState | None:
    try:
        return decode(record)
    except RolloutError:  # a partial record: shown field by field
        return None


@local.command()
@repo_option
@_state_dir_option
def down(repo: Path | None, state_dirs: tuple[str, ...]) -> None:
    """Stop the router and every variant process; clear the local state."""
    from cd.rollout.local.runtime import down as local_down

    for state_dir in _state_dirs(repo, state_dirs):
        stopped = local_down(state_dir)
        pids = ", ".join(str(p.pid) for p in stopped)
        click.echo(
            f"{state_dir}: stopped {len(stopped)} process{'es' if len(stopped) != 1 else ''}"
            + (f" ({pids})" if pids else "")
        )

"""`modelcd experiment`: decide a running A/B experiment on its business metric, and act on the decision."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cd.cli.options import env_option, repo_option, workspace
from cd.github.actions import append_summary, set_output


@click.command()
@env_option()
@click.option("--model", help="Model whose experiment to decide (default: every experiment running in ENV).")
@click.option(
    "--outcomes",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="CSV of outcomes (inference_id, the metric's column, optionally row), for source: outcomes.",
)
@click.option("--stop", is_flag=True, help="End the experiment now: all traffic back to stable.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@repo_option
def experiment(
    env: str, model: str | None, outcomes: Path | None, stop: bool, fmt: str, repo: Path | None
) -> None:
    """The winner goes to 100% (and a promotion PR opens); a loss, a stop or time running out returns all
    traffic to stable (and a PR sets git back); otherwise the split holds and the numbers are shown."""
    from cd.rollout.experiment_run import run_experiment, running_experiments

    ws = workspace(repo, say=lambda t: click.echo(f"note: {t}", err=True))
    models = [model] if model else running_experiments(ws, env)
    if not models:
        click.echo(f"no experiment is running in {env}")
        return
    runs = [run_experiment(ws, env, name, outcomes=outcomes, stop=stop) for name in models]
    set_output("outcome", ",".join(run.decision.outcome for run in runs))
    for run in runs:
        append_summary(run.render())
    if fmt == "json":
        payload = [{"endpoint": r.endpoint, "acted": r.acted, **r.decision.to_dict()} for r in runs]
        click.echo(json.dumps(payload, indent=2))
    else:
        click.echo("".join(run.render() for run in runs), nl=False)

"""`modelcd monitor`: drift of live inputs and predictions, and live quality, from captured traffic."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cd.cli.options import env_option, repo_option, workspace
from cd.errors import EXIT_FAILURE, UsageError
from cd.github.actions import append_summary, set_output

if TYPE_CHECKING:
    from cd.monitor.run import MonitorReport
    from cd.workspace import Workspace


def _duration(text: str | None) -> float | None:
    from cd.config.load import parse_duration

    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError:
        raise UsageError(f"--since {text!r}: give a duration such as 30m, 6h or 1h30m") from None


@click.command()
@env_option()
@click.option("--model", help="One model of the environment (default: every model).")
@click.option(
    "--since", help="How far back the window reaches, e.g. 6h (default: the policy's drift.window)."
)
@click.option(
    "--labels",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="CSV of outcomes: inference_id, the gate's label column, optionally row; gives live quality.",
)
@click.option(
    "--reference",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="CSV or Parquet to compare with instead of the gate's dataset.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True
)
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="Write JSON, Markdown and HTML here."
)
@click.option("--issues", is_flag=True, help="Open, update or close one GitHub issue per drifted model.")
@click.option(
    "--exit-zero",
    is_flag=True,
    help="Exit 0 on drift too (errors still exit non-zero): when an issue reports it.",
)
@repo_option
def monitor(
    env: str,
    model: str | None,
    since: str | None,
    labels: Path | None,
    reference: Path | None,
    fmt: str,
    out: Path | None,
    issues: bool,
    exit_zero: bool,
    repo: Path | None,
) -> None:
    """Compare captured live traffic with the reference; exit 1 when a feature or the prediction drifted."""
    from cd.monitor.render import render_markdown, render_text, workflow_annotations
    from cd.monitor.run import MonitorRequest
    from cd.monitor.run import monitor as run_monitor

    ws = workspace(repo, say=lambda text: click.echo(f"note: {text}", err=True))
    request = MonitorRequest(env, model, _duration(since), labels, reference)
    run = run_monitor(ws, request)
    for report in run.reports:
        append_summary(render_markdown(report) + "\n")
        if ws.in_actions():
            for line in workflow_annotations(report):
                click.echo(line)
    if out is not None:
        from cd.monitor.publish import write_outputs

        for report in run.reports:
            for path in write_outputs(report, out):
                click.echo(f"wrote {path}", err=True)
    set_output("drift", "true" if run.drifted else "false")
    if fmt == "json":
        click.echo(json.dumps([r.to_dict() for r in run.reports], indent=2))
    else:
        render = render_markdown if fmt == "markdown" else render_text
        for report in run.reports:
            click.echo(render(report), nl=False)
    if issues:
        _sync_issues(ws, run.reports)
    if run.drifted and not exit_zero:
        raise click.exceptions.Exit(EXIT_FAILURE)


def _sync_issues(ws: Workspace, reports: Sequence[MonitorReport]) -> None:
    from cd.github.actions import run_url
    from cd.monitor.issues import sync_monitor_issues

    client = ws.github_if_configured()
    if client is None:
        click.echo(
            "no GitHub settings (GITHUB_TOKEN, GITHUB_REPOSITORY): monitor issues not updated", err=True
        )
        return
    for plan, issue in sync_monitor_issues(client, reports, run_url(ws.environ)):
        if plan.action != "none" and issue is not None:
            click.echo(f"{plan.key}: {plan.action} issue #{issue.number} {issue.html_url}", err=True)

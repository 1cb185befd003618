"""`modelcd gate`: judge a promotion (candidate at head vs incumbent at base) by the base's gate."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cd.cli.options import repo_option, workspace
from cd.errors import EXIT_FAILURE, EXIT_OK
from cd.github.actions import append_summary, set_output


@click.command()
@click.option("--env", "environment", help="Environment whose promotion is judged.")
@click.option("--model", help="Model name (models/<name>/).")
@click.option(
    "--version",
    type=int,
    help="The version to judge when --env asks for several (an experiment's challengers); default: "
    "the environment's version.",
)
@click.option(
    "--all", "all_", is_flag=True, help="Judge every promotion in the plan between --base and --head."
)
@click.option(
    "--base", default="HEAD", show_default=True, help="Base ref: the incumbent and the gate come from here."
)
@click.option(
    "--head",
    default="HEAD",
    show_default=True,
    help="Head ref with the candidate version (a commit, as `modelcd plan` reads).",
)
@click.option(
    "--out", "out", type=click.Path(file_okay=False, path_type=Path), help="Write JSON and Markdown here."
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--exit-zero",
    is_flag=True,
    help="Exit 0 on a fail or inconclusive verdict too (an error, such as an unreachable MLflow, still "
    "exits non-zero): to record the verdict of a change already merged past its gate.",
)
@click.option(
    "--power",
    is_flag=True,
    help="Print what each check could detect on the gate's dataset (minimum detectable effects, "
    "underpowered checks), scored with the version --env runs at --base; needs no candidate.",
)
@repo_option
def gate(
    environment: str | None,
    model: str | None,
    version: int | None,
    all_: bool,
    base: str,
    head: str,
    out: Path | None,
    fmt: str,
    exit_zero: bool,
    power: bool,
    repo: Path | None,
) -> None:
    """Evaluate candidate vs incumbent on the gate's dataset; exit 0 pass, 1 fail or inconclusive."""
    from cd.gates.promotions import judge_promotions
    from cd.gates.report import render_markdown, render_text

    ws = workspace(repo, say=lambda text: click.echo(f"note: {text}", err=True))
    if power:
        from cd.errors import UsageError
        from cd.gates.power import power_table, render_power

        if not environment or not model:
            raise UsageError("--power needs --env and --model")
        click.echo(render_power(power_table(ws, environment, model, base)), nl=False)
        return
    run = judge_promotions(
        ws, env=environment, model=model, all_in_plan=all_, base=base, head=head, out=out, version=version
    )
    for verdict in run.verdicts:
        append_summary(render_markdown(verdict).rstrip("\n") + "\n\n")
    set_output("verdict", run.overall)
    if fmt == "json":
        payload = [v.to_dict() for v in run.verdicts]
        click.echo(json.dumps(payload if all_ else payload[0], indent=2))
    elif not run.verdicts:
        click.echo("no promotions to judge")
    for verdict in run.verdicts if fmt == "text" else ():
        click.echo(render_text(verdict), nl=False)
    if not run.passed and exit_zero:
        click.echo(
            "gate did not pass; exiting 0 as --exit-zero asks (the verdict above is recorded)", err=True
        )
    raise click.exceptions.Exit(EXIT_OK if run.passed or exit_zero else EXIT_FAILURE)

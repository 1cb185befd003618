"""`modelcd gate`: judge a promotion (candidate at head vs incumbent at base) by the base's gate."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cd.cli.config_commands import _repo_root
from cd.errors import EXIT_FAILURE, EXIT_OK, UsageError


@click.command()
@click.option("--env", "environment", help="Environment whose promotion is judged.")
@click.option("--model", help="Model name (models/<name>/).")
@click.option(
    "--all", "all_", is_flag=True, help="Judge every promotion in the plan between --base and --head."
)
@click.option(
    "--base", default="HEAD", show_default=True, help="Base ref: the incumbent and the gate come from here."
)
@click.option("--head", default=None, help="Head ref with the candidate version (default: the working tree).")
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
    "--repo", "repo", type=click.Path(file_okay=False), help="Repository root (default: the git top level)."
)
def gate(
    environment: str | None,
    model: str | None,
    all_: bool,
    base: str,
    head: str | None,
    out: Path | None,
    fmt: str,
    exit_zero: bool,
    repo: str | None,
) -> None:
    """Evaluate candidate vs incumbent on the gate's dataset; exit 0 pass, 1 fail or inconclusive."""
    from cd.gates.evaluate import evaluate_promotion
    from cd.gates.publish import append_step_outputs, append_step_summary, write_outputs
    from cd.gates.report import render_markdown, render_text
    from cd.registry import Registry, default_tracking_uri

    root = _repo_root(repo)
    if all_:
        if environment or model:
            raise UsageError("--all judges every promotion in the plan; do not combine it with --env/--model")
        from cd.plan import plan_between_refs

        plan = plan_between_refs(root, base, head or "HEAD")
        targets = [(c.env, c.model) for c in plan.changes if c.kind in ("promoted", "added")]
        head = head or "HEAD"
    else:
        if not environment or not model:
            raise UsageError("give --env and --model, or --all")
        targets = [(environment, model)]

    registry = Registry(default_tracking_uri(root))
    verdicts = [evaluate_promotion(root, env, name, base, head, registry) for env, name in targets]
    for v in verdicts:
        markdown = render_markdown(v)
        if out is not None:
            write_outputs(v, out)
        append_step_summary(markdown)
    append_step_outputs({"verdict": _overall([v.verdict for v in verdicts])})
    if fmt == "json":
        payload = [v.to_dict() for v in verdicts]
        click.echo(json.dumps(payload if all_ else payload[0], indent=2))
    elif not verdicts:
        click.echo("no promotions to judge")
    else:
        for v in verdicts:
            click.echo(render_text(v), nl=False)
    passed = all(v.passed for v in verdicts)
    if not passed and exit_zero:
        click.echo(
            "gate did not pass; exiting 0 as --exit-zero asks (the verdict above is recorded)", err=True
        )
    raise click.exceptions.Exit(EXIT_OK if passed or exit_zero else EXIT_FAILURE)


def _overall(verdicts: list[str]) -> str:
    if "fail" in verdicts:
        return "fail"
    if "inconclusive" in verdicts:
        return "inconclusive"
    return "pass"

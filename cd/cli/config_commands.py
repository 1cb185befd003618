"""`modelcd validate` and `modelcd plan`: the desired state and what a change to it means."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from cd.cli.options import repo_option, workspace
from cd.cli.render import default_format, problem_annotations
from cd.errors import EXIT_FAILURE, ConfigError, Problem


@click.command()
@repo_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default=None,
    help="Output format (default: github inside GitHub Actions, else text).",
)
def validate(repo: Path | None, fmt: str | None) -> None:
    """Validate every environment, gate and model file; list every problem."""
    fmt = fmt or default_format()
    try:
        config = workspace(repo).config
    except ConfigError as exc:
        _render_problems(exc.problems, fmt)
        raise click.exceptions.Exit(EXIT_FAILURE) from exc
    counts = {
        "environments": len(config.environments),
        "models": len(config.models),
        "gates": len(config.gates),
    }
    if fmt == "json":
        click.echo(json.dumps({"ok": True, "problems": [], **counts}, indent=2))
    else:
        click.echo("ok: " + ", ".join(_plural(n, kind[:-1]) for kind, n in counts.items()))


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _render_problems(problems: tuple[Problem, ...], fmt: str) -> None:
    summary = f"{_plural(len(problems), 'problem')} in {_plural(len({p.file for p in problems}), 'file')}"
    if fmt == "json":
        click.echo(json.dumps({"ok": False, "problems": [asdict(p) for p in problems]}, indent=2))
        return
    if fmt == "github":
        for line in problem_annotations(problems, "modelcd validate"):
            click.echo(line)
    else:
        for problem in problems:
            click.echo(str(problem))
    click.echo(summary, err=True)


@click.command()
@click.option("--base", required=True, help="Base ref (e.g. origin/main, HEAD~1).")
@click.option("--head", default="HEAD", show_default=True, help="Head ref.")
@repo_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown", "matrix"]),
    default="text",
    show_default=True,
)
@click.option(
    "--live",
    is_flag=True,
    help="Also check each promotion against what the upstream (promote_from) endpoint serves now.",
)
def plan(base: str, head: str, repo: Path | None, fmt: str, live: bool) -> None:
    """Explain a promotion: which models change in which environment between two refs."""
    from cd.plan import plan_workspace

    result = plan_workspace(workspace(repo, say=_note), base, head, live=live)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2))
    elif fmt == "matrix":
        click.echo(json.dumps(result.matrix(), separators=(",", ":")))
    elif fmt == "markdown":
        click.echo(render_plan_markdown(result))
    else:
        click.echo(render_plan_text(result))
    for problem in result.problems:
        click.echo(f"error: {problem}", err=True)
    if result.problems:
        raise click.exceptions.Exit(EXIT_FAILURE)


def _note(text: str) -> None:
    click.echo(f"note: {text}", err=True)


def _symbol(kind: str) -> str:
    return {"added": "+", "removed": "-", "promoted": "~", "reconfigured": "*", "challenger": "+"}[kind]


def render_plan_text(result: object) -> str:
    from cd.plan import Plan

    assert isinstance(result, Plan)
    lines = [f"Plan {result.base[:8]}..{result.head[:8]}"]
    if result.is_empty:
        lines.append("No changes: the plan is empty.")
        return "\n".join(lines)
    for env in sorted({c.env for c in result.changes}):
        lines.append(f"{env}:")
        for change in (c for c in result.changes if c.env == env):
            extra = f"  [{'; '.join(change.details)}]" if change.details else ""
            lines.append(f"  {_symbol(change.kind)} {change.describe()}{extra}")
    if not result.changes:
        lines.append("No model versions change.")
    if result.environment_changes:
        lines.append("Environment settings changed: " + ", ".join(result.environment_changes))
    if result.changed_files:
        lines.append("Config files changed: " + ", ".join(result.changed_files))
    return "\n".join(lines)


def render_plan_markdown(result: object) -> str:
    from cd.plan import Plan

    assert isinstance(result, Plan)
    lines = [f"### Promotion plan `{result.base[:8]}..{result.head[:8]}`", ""]
    if result.is_empty:
        return "\n".join([*lines, "No changes: the plan is empty."])
    if result.changes:
        lines += ["| environment | model | change | from | to | details |", "|---|---|---|---|---|---|"]
        for c in result.changes:
            frm = f"v{c.from_version}" if c.from_version else "—"
            to = f"v{c.to_version}" if c.to_version else "—"
            lines.append(f"| {c.env} | {c.model} | {c.kind} | {frm} | {to} | {'; '.join(c.details)} |")
    if result.environment_changes:
        lines += [
            "",
            "Environment settings changed: " + ", ".join(f"`{e}`" for e in result.environment_changes),
        ]
    if result.changed_files:
        lines += ["", "Config files changed: " + ", ".join(f"`{f}`" for f in result.changed_files)]
    gate_files = [f for f in result.changed_files if f.startswith("gates/")]
    if gate_files:
        lines += [
            "",
            "> **Gate definitions changed** — this PR is judged by the base branch's gates; "
            "the gate change itself needs its owners' review.",
        ]
    for problem in result.problems:
        lines += ["", f"> :x: `{problem}`"]
    return "\n".join(lines)

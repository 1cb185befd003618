"""Commands of the GitHub pull-request experience and of git/reality reconciliation:
`matrix`, `comment`, `status-checks`, `approvals`, `override`, `promote`, `rollback`, `diff`, `drift`.

Parse, one library call, render. Inside GitHub Actions they also write step outputs and the job summary.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cd.cli.options import repo_option, workspace, workspace_here
from cd.cli.render import problem_annotations
from cd.errors import EXIT_FAILURE, UsageError
from cd.github.actions import append_summary, in_actions, set_output

if TYPE_CHECKING:
    from cd.github.pr_report import ReportRun
    from cd.github.proposals import Proposal

VERDICTS = click.Path(file_okay=False, path_type=Path)
PLAN_FILE = click.Path(dir_okay=False, exists=True, path_type=Path)


def _render_report(run: ReportRun) -> None:
    for line in run.lines:
        click.echo(line)
    if run.summary:
        append_summary(run.summary)


def _render_proposal(proposal: Proposal) -> None:
    click.echo(proposal.describe())
    set_output("branch", proposal.branch)
    if proposal.pull is not None:
        set_output("pull-request", proposal.pull.html_url)
    else:
        click.echo(
            f"no GitHub settings (GITHUB_TOKEN, GITHUB_REPOSITORY): created the local branch {proposal.branch} only; "
            f"push it and open a pull request to propose the change"
        )
    append_summary(proposal.describe())


# ---------------------------------------------------------------- matrix


@click.command()
@click.option("--base", help="Base ref (PR base sha, or the commit before a push).")
@click.option("--head", default="HEAD", show_default=True, help="Head ref.")
@click.option(
    "--by", "kind", type=click.Choice(["gate", "build", "deploy"]), default="gate", show_default=True
)
@click.option(
    "--write",
    "write",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write every change to FILE (for the PR report).",
)
@click.option(
    "--environments",
    "every_environment",
    is_flag=True,
    help="No plan: every environment in promotion order (output `deploys`), for scheduled jobs.",
)
@repo_option
def matrix(
    base: str | None, head: str, kind: str, write: Path | None, every_environment: bool, repo: Path | None
) -> None:
    """Print the GitHub Actions matrix of a plan; inside Actions set outputs matrix, count, environments,
    deploys (one deploy job per changed environment, in promotion order)."""
    from cd.github.matrix import deploy_environments, plan_matrix

    if every_environment:
        config = workspace(repo).config
        names = config.promotion_order()
        deploys = deploy_environments(config, names)
        set_output("environments", json.dumps(names))
        set_output("deploys", json.dumps(deploys, separators=(",", ":")))
        click.echo(json.dumps(deploys, separators=(",", ":")))
        return
    if base is None:
        raise UsageError("say which plan: --base REF (or --environments for every environment)")
    result = plan_matrix(workspace(repo), base, head, kind, write)  # type: ignore[arg-type]
    problems = result.plan.problems
    if problems:
        lines = problem_annotations(problems, "modelcd plan") if in_actions() else map(str, problems)
        for line in lines:
            click.echo(line)
        raise click.exceptions.Exit(EXIT_FAILURE)
    text = json.dumps(result.matrix, separators=(",", ":"))
    set_output("matrix", text)
    set_output("count", str(len(result.matrix["include"])))
    set_output("environments", json.dumps(result.environments))
    set_output("deploys", json.dumps(result.deploys, separators=(",", ":")))
    click.echo(text)


# ---------------------------------------------------------------- PR report


@click.command()
@click.option("--pr", "pr", type=int, required=True, help="Pull request number.")
@click.option("--verdicts", required=True, type=VERDICTS, help="Directory of gate verdicts.")
@click.option("--plan", "plan", type=PLAN_FILE, help="The plan file `modelcd matrix --write` wrote.")
def comment(pr: int, verdicts: Path, plan: Path | None) -> None:
    """Create or update the single sticky PR comment with the plan and each gate's verdict."""
    from cd.github.pr_report import post_comment

    _render_report(post_comment(workspace_here(), pr, verdicts, plan))


@click.command(name="status-checks")
@click.option("--verdicts", required=True, type=VERDICTS, help="Directory of gate verdicts.")
@click.option("--plan", "plan", type=PLAN_FILE, help="The plan file `modelcd matrix --write` wrote.")
@click.option(
    "--sha", default=None, help="Commit to set statuses on (default: the PR head, else GITHUB_SHA)."
)
def status_checks(verdicts: Path, plan: Path | None, sha: str | None) -> None:
    """One commit status per (environment, model) gate: `modelcd/gate <model>@<env>`."""
    from cd.github.pr_report import post_gate_statuses

    _render_report(post_gate_statuses(workspace_here(), verdicts, plan, sha))


@click.command(name="required-check")
@click.option(
    "--needs-env",
    default="MODELCD_NEEDS",
    show_default=True,
    help="Environment variable holding `${{ toJSON(needs) }}`.",
)
@click.option("--verdicts", type=click.Path(file_okay=False, path_type=Path), default=Path("verdicts"))
@click.option("--plan", "plan", type=click.Path(dir_okay=False, path_type=Path), help="The plan file.")
def required_check(needs_env: str, verdicts: Path, plan: Path | None) -> None:
    """Post `modelcd/required`, the one status branch protection requires (passes when nothing needs a gate)."""
    import os

    from cd.github.pr_report import post_required_status

    if needs_env not in os.environ:
        raise UsageError(f"${needs_env} is not set: pass `${{{{ toJSON(needs) }}}}` in it")
    verdicts.mkdir(parents=True, exist_ok=True)  # no gate ran: no verdicts
    run = post_required_status(workspace_here(), os.environ[needs_env], verdicts, plan)
    for line in run.lines:
        click.echo(line)
    if not run.passed and not run.posted:  # posted: the status is the verdict, and an override can change it
        raise click.exceptions.Exit(EXIT_FAILURE)


# ---------------------------------------------------------------- approvals and overrides


@click.command()
@click.option(
    "--pr", "pr", type=int, help="Pull request number (default: the PR of this run's merge group event)."
)
@click.option("--env", "envs", multiple=True, help="Environment whose policy to check (repeatable).")
@click.option("--changed", is_flag=True, help="Every environment whose file the PR changes.")
@repo_option
@click.option(
    "--set-status/--no-set-status",
    default=None,
    help="Set `modelcd/approvals <env>` (default: inside Actions).",
)
@click.option("--sha", help="Commit to set the statuses on (a merge group's; default: the PR head).")
def approvals(
    pr: int | None,
    envs: tuple[str, ...],
    changed: bool,
    repo: Path | None,
    set_status: bool | None,
    sha: str | None,
) -> None:
    """Check environments' approval policies against the PR's latest review per reviewer on the head commit."""
    from cd.github.approval_policy import render_decision
    from cd.github.approvals import check_pull_approvals

    ws = workspace(repo)
    if pr is None:
        from cd.github.actions import merge_group_pull

        pr, sha = merge_group_pull(ws.environ)
    run = check_pull_approvals(ws, pr, envs, changed=changed, set_status=set_status, sha=sha)
    for name in run.unchanged:
        click.echo(f"{name}: #{pr} does not change it: passes")
    if not run.decisions:
        click.echo(f"#{pr} changes no environment: no approval policy applies")
    for decision in run.decisions:
        text = render_decision(decision)
        click.echo(text, nl=False)
        append_summary(text)
    if run.failed:
        raise click.exceptions.Exit(EXIT_FAILURE)


@click.command()
@repo_option
@click.option("--verdicts", type=VERDICTS, help="Also record the override in these verdict files.")
def override(repo: Path | None, verdicts: Path | None) -> None:
    """Handle a `/modelcd override <reason>` PR comment (the issue_comment event of this run)."""
    from cd.github.override_flow import override_from_event

    outcome = override_from_event(workspace(repo), verdicts)
    if outcome is None:
        click.echo("not a `/modelcd override <reason>` comment on a pull request: nothing to do")
        return
    click.echo(outcome.message)
    append_summary(outcome.message)


# ---------------------------------------------------------------- promote and rollback


@click.command()
@click.argument("name")
@click.option("--from", "from_env", required=True, help="Environment the version is live in.")
@click.option("--to", "to_env", required=True, help="Environment to promote to.")
@click.option("--base", default=None, help="Branch to propose against (default: the current branch).")
@repo_option
def promote(name: str, from_env: str, to_env: str, base: str | None, repo: Path | None) -> None:
    """Open the PR that promotes NAME's version live in --from to --to (the diff is the version line only)."""
    from cd.github.proposals import promote as propose

    _render_proposal(propose(workspace(repo), name, from_env, to_env, base))


@click.command()
@click.option("--env", "env_name", required=True, help="Environment to set back.")
@click.option("--model", "model", required=True, help="Model to set back.")
@click.option("--to", "to_version", type=int, default=None, help="Version to set (default: what is live).")
@click.option("--base", default=None, help="Branch to propose against (default: the current branch).")
@repo_option
def rollback(env_name: str, model: str, to_version: int | None, base: str | None, repo: Path | None) -> None:
    """Open the PR that sets git back to what is live (or to --to VERSION)."""
    from cd.github.proposals import rollback as propose

    _render_proposal(propose(workspace(repo), env_name, model, to_version, base))


# ---------------------------------------------------------------- drift


@click.command()
@click.option("--env", "env_name", required=True, help="Environment to compare with its endpoints.")
@repo_option
def diff(env_name: str, repo: Path | None) -> None:
    """Desired (git) vs actual (endpoints): version, weights, instance settings. Exit 1 on drift."""
    from cd.drift import observe_drift, render_drift

    drift = observe_drift(workspace(repo), env_name)
    text = render_drift(drift)
    click.echo(text, nl=False)
    append_summary(text)
    if drift.drifted:
        raise click.exceptions.Exit(EXIT_FAILURE)


@click.command()
@repo_option
def drift(repo: Path | None) -> None:
    """Check every environment; open or update one issue per drifted environment, close resolved ones."""
    from cd.drift import check_all_environments, render_drift

    run = check_all_environments(workspace(repo))
    for found in run.drifts:
        click.echo(render_drift(found), nl=False)
        append_summary(render_drift(found))
    if run.issues is None:
        click.echo("no GitHub settings (GITHUB_TOKEN, GITHUB_REPOSITORY): drift issues not updated")
        return
    for plan, issue in run.issues:
        if plan.action != "none" and issue is not None:
            click.echo(f"{plan.key}: {plan.action} issue #{issue.number} {issue.html_url}")

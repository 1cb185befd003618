"""Commands of the GitHub pull-request experience and of git/reality reconciliation:
`matrix`, `comment`, `status-checks`, `approvals`, `override`, `promote`, `rollback`, `diff`, `drift`.

Parse, call the library, render. Inside GitHub Actions they write step outputs and the job summary.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cd.errors import EXIT_FAILURE, UsageError

if TYPE_CHECKING:
    from cd.config.model import Environment, RepoConfig
    from cd.github.api import GitHubClient
    from cd.github.gate_results import GateResult, PlannedChange

FORK_NOTE = (
    "Pull request from a fork: its token is read-only, so the {what} {were} skipped. "
    "The gate verdicts are in this run's job summaries and artifacts."
)


# ---------------------------------------------------------------- shared helpers


def _repo_root(path: str | None) -> Path:
    from cd.errors import GitError
    from cd.gitrepo import toplevel

    start = Path(path or ".").resolve()
    if path is not None:
        return start
    try:
        return toplevel(start)
    except GitError:
        return start


def _client(required: bool = True) -> GitHubClient | None:
    """The API client from GITHUB_TOKEN/GITHUB_REPOSITORY/GITHUB_API_URL; None when unset and optional."""
    from cd.github.api import GitHubClient

    if not required and not (os.environ.get("GITHUB_TOKEN") and os.environ.get("GITHUB_REPOSITORY")):
        return None
    return GitHubClient.from_env()


def _org_client(client: GitHubClient) -> GitHubClient | None:
    """A client for organisation reads (team membership) from MODELCD_ORG_TOKEN, when set."""
    from dataclasses import replace

    from cd.github.api import GitHubClient

    token = os.environ.get("MODELCD_ORG_TOKEN")
    return GitHubClient(replace(client.settings, token=token)) if token else None


def _pr_event_or_none() -> object | None:
    from cd.github.actions import read_event

    if not os.environ.get("GITHUB_EVENT_PATH"):
        return None
    return read_event()


def _skip_for_fork(what: str, were: str = "were") -> bool:
    """On a fork PR: say so on stdout and in the job summary, and tell the caller to stop (exit 0)."""
    from cd.github.actions import GitHubEvent, append_summary, is_fork_pr

    event = _pr_event_or_none()
    if isinstance(event, GitHubEvent) and is_fork_pr(event):
        note = FORK_NOTE.format(what=what, were=were)
        click.echo(note)
        append_summary(f"> [!NOTE]\n> {note}\n")
        return True
    return False


def _plan_and_results(
    verdicts: str, plan: str | None
) -> tuple[tuple[PlannedChange, ...], tuple[GateResult, ...]]:
    from cd.github.gate_results import read_matrix_file, read_verdicts, results_for_plan

    changes = read_matrix_file(Path(plan)) if plan else ()
    found = read_verdicts(Path(verdicts))
    return changes, results_for_plan(changes, found)


def _head_sha(explicit: str | None) -> str:
    from cd.github.actions import GitHubEvent

    if explicit:
        return explicit
    event = _pr_event_or_none()
    if isinstance(event, GitHubEvent) and event.name in ("pull_request", "pull_request_review"):
        return event.pull_request().head_sha
    sha = os.environ.get("GITHUB_SHA")
    if not sha:
        raise UsageError("no commit to set statuses on: pass --sha (or run inside GitHub Actions)")
    return sha


def _environment(config: RepoConfig, name: str) -> Environment:
    if name not in config.environments:
        known = ", ".join(sorted(config.environments)) or "none"
        raise UsageError(f"no environment {name!r} (environments/{name}.yaml); known: {known}")
    return config.environments[name]


# ---------------------------------------------------------------- matrix


@click.command()
@click.option("--base", required=True, help="Base ref (PR base sha, or the commit before a push).")
@click.option("--head", default="HEAD", show_default=True, help="Head ref.")
@click.option(
    "--by", "kind", type=click.Choice(["gate", "build", "deploy"]), default="gate", show_default=True
)
@click.option(
    "--write",
    "write",
    type=click.Path(dir_okay=False),
    help="Also write every change to FILE (for the PR report).",
)
@click.option(
    "--repo", "repo", type=click.Path(file_okay=False), help="Repository root (default: git top level)."
)
def matrix(base: str, head: str, kind: str, write: str | None, repo: str | None) -> None:
    """Print the GitHub Actions matrix of a plan; inside Actions set outputs matrix, count, environments."""
    from cd.cli.render import problem_annotations
    from cd.github.actions import in_actions, set_output
    from cd.github.matrix import changed_environments, matrix_for, plan_matrix_file
    from cd.plan import plan_between_refs

    plan = plan_between_refs(_repo_root(repo), base, head)
    if plan.problems:
        lines = (
            problem_annotations(plan.problems, "modelcd plan")
            if in_actions()
            else [str(p) for p in plan.problems]
        )
        for line in lines:
            click.echo(line)
        raise click.exceptions.Exit(EXIT_FAILURE)
    result = matrix_for(plan, kind)  # type: ignore[arg-type]
    text = json.dumps(result, separators=(",", ":"))
    if write:
        target = Path(write)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(plan_matrix_file(plan), indent=2) + "\n")
    set_output("matrix", text)
    set_output("count", str(len(result["include"])))
    set_output("environments", json.dumps(changed_environments(plan)))
    click.echo(text)


# ---------------------------------------------------------------- PR report


@click.command()
@click.option("--pr", "pr", type=int, required=True, help="Pull request number.")
@click.option(
    "--verdicts", required=True, type=click.Path(file_okay=False), help="Directory of gate verdicts."
)
@click.option(
    "--plan",
    "plan",
    type=click.Path(dir_okay=False, exists=True),
    help="The plan file `modelcd matrix --write` wrote.",
)
def comment(pr: int, verdicts: str, plan: str | None) -> None:
    """Create or update the single sticky PR comment with the plan and each gate's verdict."""
    from cd.github.actions import append_summary, run_url
    from cd.github.comment import render_comment
    from cd.github.pr_report import upsert_sticky_comment

    changes, results = _plan_and_results(verdicts, plan)
    sha = _head_sha(None) if os.environ.get("GITHUB_EVENT_PATH") else None
    body = render_comment(changes, results, run_url=run_url(), head_sha=sha)
    if _skip_for_fork("PR comment", "was"):
        append_summary(body)
        return
    client = _client()
    assert client is not None
    action, posted = upsert_sticky_comment(client, pr, body)
    click.echo(f"{action} the modelcd comment on #{pr}: {posted.html_url}")


@click.command(name="status-checks")
@click.option(
    "--verdicts", required=True, type=click.Path(file_okay=False), help="Directory of gate verdicts."
)
@click.option(
    "--plan",
    "plan",
    type=click.Path(dir_okay=False, exists=True),
    help="The plan file `modelcd matrix --write` wrote.",
)
@click.option(
    "--sha", default=None, help="Commit to set statuses on (default: the PR head, else GITHUB_SHA)."
)
def status_checks(verdicts: str, plan: str | None, sha: str | None) -> None:
    """One commit status per (environment, model) gate: `modelcd/gate <model>@<env>`."""
    from cd.github.actions import run_url
    from cd.github.comment import status_for
    from cd.github.pr_report import publish_statuses

    _, results = _plan_and_results(verdicts, plan)
    if _skip_for_fork("commit statuses"):
        return
    client = _client()
    assert client is not None
    statuses = [status_for(r, run_url()) for r in results]
    head = _head_sha(sha)
    publish_statuses(client, head, statuses)
    for status in statuses:
        click.echo(f"{status.context}: {status.state} ({status.description})")
    if not statuses:
        click.echo("no gates in the plan: no statuses to set")


# ---------------------------------------------------------------- approvals and overrides


@click.command()
@click.option("--pr", "pr", type=int, required=True, help="Pull request number.")
@click.option("--env", "envs", multiple=True, help="Environment whose policy to check (repeatable).")
@click.option("--changed", is_flag=True, help="Every environment whose file the PR changes.")
@click.option(
    "--repo", "repo", type=click.Path(file_okay=False), help="Repository root (its policies are used)."
)
@click.option(
    "--set-status/--no-set-status",
    default=None,
    help="Set `modelcd/approvals <env>` (default: inside Actions).",
)
def approvals(
    pr: int, envs: tuple[str, ...], changed: bool, repo: str | None, set_status: bool | None
) -> None:
    """Check environments' approval policies against the PR's latest review per reviewer on the head commit."""
    from cd.config import load_repo
    from cd.github.actions import append_summary, in_actions
    from cd.github.approvals import render_decision
    from cd.github.review_policy import check_approvals

    config = load_repo(_repo_root(repo))
    client = _client()
    assert client is not None
    names = list(envs)
    if changed:
        names += [
            Path(f).stem
            for f in client.pull_files(pr)
            if f.startswith("environments/") and f.endswith(".yaml")
        ]
    names = list(dict.fromkeys(n for n in names if not changed or n in config.environments))
    if not names:
        click.echo(f"#{pr} changes no environment: no approval policy applies")
        return
    head = client.pull_request(pr).head_sha
    failed = []
    for name in names:
        decision = check_approvals(client, pr, _environment(config, name), _org_client(client))
        text = render_decision(decision)
        click.echo(text, nl=False)
        append_summary(text)
        if set_status if set_status is not None else in_actions():
            state = "success" if decision.satisfied else "failure"
            client.create_status(head, state, f"modelcd/approvals {name}", decision.summary)
        if not decision.satisfied:
            failed.append(name)
    if failed:
        raise click.exceptions.Exit(EXIT_FAILURE)


@click.command()
@click.option(
    "--repo", "repo", type=click.Path(file_okay=False), help="Repository root (default-branch checkout)."
)
@click.option(
    "--verdicts", type=click.Path(file_okay=False), help="Also record the override in these verdict files."
)
def override(repo: str | None, verdicts: str | None) -> None:
    """Handle a `/modelcd override <reason>` PR comment (the issue_comment event of this run)."""
    from cd.config import load_repo
    from cd.github.actions import append_summary, read_event
    from cd.github.override_flow import handle_override_comment

    event = read_event().issue_comment()
    config = load_repo(_repo_root(repo))
    client = _client()
    assert client is not None
    outcome = handle_override_comment(
        client, event, config, org_client=_org_client(client), verdicts=Path(verdicts) if verdicts else None
    )
    if outcome is None:
        click.echo("not a `/modelcd override <reason>` comment on a pull request: nothing to do")
        return
    click.echo(outcome.message)
    append_summary(outcome.message)


# ---------------------------------------------------------------- promote and rollback


def _observe_one(env: Environment, model: str, root: Path) -> tuple[int | None, dict[str, str]]:
    from cd.drift import live_version
    from cd.live import target_for

    observed = target_for(env, root).observe(env.endpoint_name(model))
    return live_version(observed), dict(observed.record) if observed is not None else {}


def _report_proposal(proposal: object) -> None:
    from cd.github.actions import append_summary, set_output
    from cd.github.proposals import Proposal

    assert isinstance(proposal, Proposal)
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


@click.command()
@click.argument("name")
@click.option("--from", "from_env", required=True, help="Environment the version is live in.")
@click.option("--to", "to_env", required=True, help="Environment to promote to.")
@click.option("--base", default=None, help="Branch to propose against (default: the current branch).")
@click.option(
    "--repo", "repo", type=click.Path(file_okay=False), help="Repository root (default: git top level)."
)
def promote(name: str, from_env: str, to_env: str, base: str | None, repo: str | None) -> None:
    """Open the PR that promotes NAME's version live in --from to --to (the diff is the version line only)."""
    from cd.config import load_repo_at_ref
    from cd.github.proposals import current_branch, propose_promotion
    from cd.promote import plan_promotion

    root = _repo_root(repo)
    base = base or current_branch(root)
    config = load_repo_at_ref(root, base)
    source, target = _environment(config, from_env), _environment(config, to_env)
    live, record = _observe_one(source, name, root)
    promotion = plan_promotion(source, target, name, live)
    proposal = propose_promotion(
        root, target, promotion, base=base, client=_client(required=False), rollout_record=record
    )
    _report_proposal(proposal)


@click.command()
@click.option("--env", "env_name", required=True, help="Environment to set back.")
@click.option("--model", "model", required=True, help="Model to set back.")
@click.option("--to", "to_version", type=int, default=None, help="Version to set (default: what is live).")
@click.option("--base", default=None, help="Branch to propose against (default: the current branch).")
@click.option(
    "--repo", "repo", type=click.Path(file_okay=False), help="Repository root (default: git top level)."
)
def rollback(env_name: str, model: str, to_version: int | None, base: str | None, repo: str | None) -> None:
    """Open the PR that sets git back to what is live (or to --to VERSION)."""
    from cd.config import load_repo_at_ref
    from cd.github.proposals import current_branch, propose_rollback
    from cd.promote import plan_rollback

    root = _repo_root(repo)
    base = base or current_branch(root)
    env = _environment(load_repo_at_ref(root, base), env_name)
    live = _observe_one(env, model, root)[0] if to_version is None else None
    plan = plan_rollback(env, model, live, to_version)
    reason = (
        "Requested with `modelcd rollback`."
        if to_version is not None
        else "The endpoint serves this version."
    )
    _report_proposal(
        propose_rollback(root, env, plan, base=base, client=_client(required=False), reason=reason)
    )


# ---------------------------------------------------------------- drift


def _drift_of(env: Environment, root: Path) -> object:
    from cd.drift import environment_drift
    from cd.live import observe_environment, target_for

    return environment_drift(env, observe_environment(env, target_for(env, root)))


@click.command()
@click.option("--env", "env_name", required=True, help="Environment to compare with its endpoints.")
@click.option(
    "--repo", "repo", type=click.Path(file_okay=False), help="Repository root (default: git top level)."
)
def diff(env_name: str, repo: str | None) -> None:
    """Desired (git) vs actual (endpoints): version, weights, instance settings. Exit 1 on drift."""
    from cd.config import load_repo
    from cd.drift import EnvironmentDrift, render_drift
    from cd.github.actions import append_summary

    root = _repo_root(repo)
    drift = _drift_of(_environment(load_repo(root), env_name), root)
    assert isinstance(drift, EnvironmentDrift)
    text = render_drift(drift)
    click.echo(text, nl=False)
    append_summary(text)
    if drift.drifted:
        raise click.exceptions.Exit(EXIT_FAILURE)


@click.command()
@click.option(
    "--repo", "repo", type=click.Path(file_okay=False), help="Repository root (default: git top level)."
)
def drift(repo: str | None) -> None:
    """Check every environment; open or update one issue per drifted environment, close resolved ones."""
    from cd.config import load_repo
    from cd.drift import EnvironmentDrift, render_drift
    from cd.github.actions import append_summary, run_url
    from cd.github.drift_issues import sync_drift_issues

    root = _repo_root(repo)
    config = load_repo(root)
    drifts = []
    for name in sorted(config.environments):
        found = _drift_of(config.environments[name], root)
        assert isinstance(found, EnvironmentDrift)
        drifts.append(found)
        click.echo(render_drift(found), nl=False)
        append_summary(render_drift(found))
    client = _client(required=False)
    if client is None:
        click.echo("no GitHub settings (GITHUB_TOKEN, GITHUB_REPOSITORY): drift issues not updated")
        return
    for plan, issue in sync_drift_issues(client, drifts, run_url()):
        if plan.action != "none" and issue is not None:
            click.echo(f"{plan.env}: {plan.action} issue #{issue.number} {issue.html_url}")

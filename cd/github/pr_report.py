"""Publishing the PR report: the one sticky comment (found again by its hidden marker) and the statuses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from cd.errors import GitHubError, UsageError
from cd.github.api import CommentInfo, GitHubClient
from cd.github.comment import STICKY_MARKER, CommitStatus, parse_status_context

if TYPE_CHECKING:
    from cd.github.gate_results import GateResult, PlannedChange
    from cd.workspace import Workspace

UpsertResult = Literal["created", "updated", "unchanged"]


def token_login(client: GitHubClient) -> str | None:
    """Who our comments are from: the token's user; None for a GITHUB_TOKEN or a GitHub App
    installation token, which cannot read /user (their comments are by a Bot account)."""
    try:
        return client.authenticated_user()
    except GitHubError:
        return None


def find_sticky(comments: Sequence[CommentInfo], author: str | None) -> CommentInfo | None:
    """The oldest comment that starts with the marker, by `author`, or by a Bot account when the token
    cannot say who it is (github-actions[bot] for GITHUB_TOKEN, `<app>[bot]` for a GitHub App). A person
    quoting the marker is ignored."""
    for comment in comments:
        if not comment.body.lstrip().startswith(STICKY_MARKER):
            continue
        ours = comment.user.lower() == author.lower() if author is not None else comment.user_type == "Bot"
        if ours:
            return comment
    return None


def upsert_sticky_comment(
    client: GitHubClient, pr_number: int, body: str
) -> tuple[UpsertResult, CommentInfo]:
    """Create the sticky comment, or update it in place; never a second one."""
    if STICKY_MARKER not in body:
        raise ValueError("a sticky comment body must carry the marker")
    existing = find_sticky(client.issue_comments(pr_number), token_login(client))
    if existing is None:
        return "created", client.create_comment(pr_number, body)
    if existing.body.strip() == body.strip():
        return "unchanged", existing
    return "updated", client.edit_comment(existing.id, body)


def publish_statuses(client: GitHubClient, sha: str, statuses: Sequence[CommitStatus]) -> None:
    for status in statuses:
        client.create_status(sha, status.state, status.context, status.description, status.target_url)


# ---------------------------------------------------------------- `modelcd comment` and `status-checks`

FORK_NOTE = (
    "Pull request from a fork: its token is read-only, so the {what} {were} skipped. "
    "The gate verdicts are in this run's job summaries and artifacts."
)


@dataclass(frozen=True)
class ReportRun:
    """What a PR-report command did: `lines` for the terminal, `summary` for the job summary."""

    lines: tuple[str, ...]
    summary: str = ""


def fork_note(ws: Workspace, what: str, were: str = "were") -> str | None:
    """On a fork PR (read-only token) the note saying what is skipped; None elsewhere."""
    from cd.github.actions import is_fork_pr

    event = ws.event()
    if event is not None and is_fork_pr(event):
        return FORK_NOTE.format(what=what, were=were)
    return None


def head_sha_of_run(ws: Workspace, explicit: str | None = None) -> str:
    """The commit a PR report is about: `explicit`, the PR head on a pull_request event, else GITHUB_SHA."""
    if explicit:
        return explicit
    event = ws.event()
    if event is not None and event.name in ("pull_request", "pull_request_review"):
        return event.pull_request().head_sha
    sha = ws.environ.get("GITHUB_SHA")
    if not sha:
        raise UsageError("no commit to set statuses on: pass --sha (or run inside GitHub Actions)")
    return sha


def gate_results(
    verdicts: Path, plan: Path | None
) -> tuple[tuple[PlannedChange, ...], tuple[GateResult, ...]]:
    """The planned changes (from `modelcd matrix --write`) and one gate result per gated change."""
    from cd.github.gate_results import read_matrix_file, read_verdicts, results_for_plan

    changes = read_matrix_file(plan) if plan else ()
    return changes, results_for_plan(changes, read_verdicts(verdicts))


def post_comment(ws: Workspace, pr: int, verdicts: Path, plan: Path | None) -> ReportRun:
    """Create or update the one sticky PR comment with the plan and each gate's verdict."""
    from cd.github.actions import run_url
    from cd.github.comment import render_comment

    changes, results = gate_results(verdicts, plan)
    sha = head_sha_of_run(ws) if ws.event() is not None else None
    body = render_comment(changes, results, run_url=run_url(ws.environ), head_sha=sha)
    note = fork_note(ws, "PR comment", "was")
    if note is not None:
        return ReportRun((note,), f"> [!NOTE]\n> {note}\n\n{body}")
    action, posted = upsert_sticky_comment(ws.github(), pr, body)
    return ReportRun((f"{action} the modelcd comment on #{pr}: {posted.html_url}",))


def post_gate_statuses(ws: Workspace, verdicts: Path, plan: Path | None, sha: str | None) -> ReportRun:
    """One commit status per (environment, model) gate: `modelcd/gate <model>@<env>`."""
    from cd.github.actions import run_url
    from cd.github.comment import status_for

    _, results = gate_results(verdicts, plan)
    note = fork_note(ws, "commit statuses")
    if note is not None:
        return ReportRun((note,), f"> [!NOTE]\n> {note}\n")
    statuses = [status_for(r, run_url(ws.environ)) for r in results]
    publish_statuses(ws.github(), head_sha_of_run(ws, sha), statuses)
    lines = [f"{s.context}: {s.state} ({s.description})" for s in statuses]
    return ReportRun(tuple(lines or ["no gates in the plan: no statuses to set"]))


@dataclass(frozen=True)
class RequiredRun:
    passed: bool
    posted: bool  # the status carries the verdict (else the job's own exit code must)
    lines: tuple[str, ...]


def post_required_status(ws: Workspace, needs: str, verdicts: Path, plan: Path | None) -> RequiredRun:
    """`modelcd required-check`: post `modelcd/required` (`cd.github.required_check`) on the commit this
    run judges: the PR head, or the merge group's commit (overrides are read from the PR head)."""
    from cd.github.actions import merge_group_pull, run_url
    from cd.github.override import parse_override_status
    from cd.github.required_check import CONTEXT, read_needs, required_state

    check = read_needs(needs, "the needs context")
    _, gates = gate_results(verdicts, plan) if plan is not None and plan.is_file() else ((), ())
    event = ws.event()
    note = fork_note(ws, "required status", "was")
    client = None if note is not None else ws.github()
    overridden: frozenset[str] = frozenset()
    if event is not None and event.name == "merge_group":
        pr, sha = merge_group_pull(ws.environ)
        head = client.pull_request(pr).head_sha if client is not None else sha
    else:
        sha = head = head_sha_of_run(ws)
    if client is not None:
        _, statuses = client.combined_status(head)
        overridden = frozenset(
            f"{pair[0]}@{pair[1]}"
            for s in statuses
            if s.state == "success"
            and parse_override_status(s.description) is not None
            and (pair := parse_status_context(s.context)) is not None
        )
    state, description = required_state(check, gates, overridden)
    lines = [*check.lines(), f"{CONTEXT}: {state} ({description})"]
    if client is not None:
        client.create_status(sha, state, CONTEXT, description, run_url(ws.environ))
    elif note is not None:
        lines.append(note)
    return RequiredRun(state == "success", client is not None, tuple(lines))

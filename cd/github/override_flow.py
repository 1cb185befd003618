"""`modelcd override`: handle a `/modelcd override <reason>` comment on a PR.

Finds the failed `modelcd/gate <model>@<env>` statuses on the PR's head commit, decides whether the
commenter may override them (see `cd.github.override`), and either turns them green with
"overridden by @user: reason" (and records the override in the verdict files when given) or replies
saying why the override is ignored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cd.config.model import RepoConfig
from cd.files import write_atomic
from cd.github.actions import IssueCommentEvent
from cd.github.api import GitHubClient, StatusInfo, TeamsUnreadable
from cd.github.approvals import team_memberships
from cd.github.comment import parse_status_context
from cd.github.gate_results import Override
from cd.github.override import (
    OverrideDecision,
    decide_override,
    grant_record,
    override_status_description,
    parse_override_comment,
)

if TYPE_CHECKING:
    from cd.workspace import Workspace

FAILED_STATES = ("failure", "error")


@dataclass(frozen=True)
class OverrideOutcome:
    applied: bool
    message: str  # also the reply posted on the PR
    contexts: tuple[str, ...] = ()


def _reply(client: GitHubClient, number: int, text: str) -> None:
    client.create_comment(number, text)


def handle_override_comment(
    client: GitHubClient,
    event: IssueCommentEvent,
    config: RepoConfig,
    *,
    org_client: GitHubClient | None = None,
    verdicts: Path | None = None,
    now: datetime | None = None,
) -> OverrideOutcome | None:
    """None when the comment is not an override request (or not on a PR): nothing to do, no reply."""
    request = parse_override_comment(event.body)
    if request is None or not event.is_pull_request:
        return None
    pull = client.pull_request(event.issue_number)
    _, statuses = client.combined_status(pull.head_sha)
    failed = [
        (s.context, pair)
        for s in statuses
        if s.state in FAILED_STATES and (pair := parse_status_context(s.context)) is not None
    ]
    if not failed:
        message = f"Override ignored: no failed modelcd gate on `{pull.head_sha[:7]}`; nothing to override."
        _reply(client, pull.number, message)
        return OverrideOutcome(False, message)
    teams = tuple(
        team
        for _, (_, env) in failed
        if env in config.environments
        for team in config.environments[env].approvals.teams
    )
    try:
        members = (
            team_memberships(
                org_client or client,
                tuple(dict.fromkeys(teams)),
                {event.commenter},
                org_token=org_client is not None,
            )
            if teams
            else {}
        )
    except TeamsUnreadable as exc:
        message = f"Override ignored: {exc}."
        _reply(client, pull.number, message)
        return OverrideOutcome(False, message)
    decision: OverrideDecision = decide_override(
        request,
        commenter=event.commenter,
        pr_author=pull.author,
        permission=client.collaborator_permission(event.commenter),
        required_teams=teams,
        team_members=members,
    )
    if not decision.allowed:
        message = f"Override ignored: {decision.why}."
        _reply(client, pull.number, message)
        return OverrideOutcome(False, message)
    description = override_status_description(event.commenter, request.reason)
    for context, _ in failed:
        client.create_status(pull.head_sha, "success", context, description, event.html_url or None)
    override = Override(
        by=event.commenter,
        reason=request.reason,
        at=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
        url=event.html_url,
    )
    if verdicts is not None:
        record_override(verdicts, [pair for _, pair in failed], override)
    contexts = tuple(c for c, _ in failed)
    _turn_required_green(client, pull.head_sha, statuses, contexts, event.commenter, event.html_url)
    message = (
        f"Override recorded: {description}. Gates turned green on `{pull.head_sha[:7]}`: "
        + ", ".join(f"`{c}`" for c in contexts)
        + ". The override is kept in the verdict and the release notes."
    )
    # The reply records the reason as granted: the release notes read it from here, so editing the
    # request comment afterwards changes nothing.
    _reply(
        client,
        pull.number,
        message + "\n\n" + grant_record(override.by, override.reason, override.at, override.url),
    )
    return OverrideOutcome(True, message, contexts)


def _turn_required_green(
    client: GitHubClient,
    sha: str,
    statuses: Sequence[StatusInfo],
    overridden: Sequence[str],
    by: str,
    url: str | None,
) -> None:
    """`modelcd/required` (cd.github.required_check) was failing on gates only, and none is left failing:
    it passes now. A failure for another reason (a job failed) stays."""
    from cd.github.required_check import CONTEXT, GATES_FAILED

    required = next((s for s in statuses if s.context == CONTEXT), None)
    if required is None or required.state not in FAILED_STATES:
        return
    if not (required.description or "").startswith(GATES_FAILED):
        return
    still_failing = [
        s.context
        for s in statuses
        if s.state in FAILED_STATES
        and parse_status_context(s.context) is not None
        and s.context not in overridden
    ]
    if not still_failing:
        client.create_status(sha, "success", CONTEXT, f"gates passed (overridden by @{by})", url or None)


def record_override(verdicts: Path, pairs: list[tuple[str, str]], override: Override) -> list[Path]:
    """Add `"override": {...}` to the verdict JSON of each (gate name, env) in `verdicts` (a verdict file or
    a directory of them; the gate name is the model, or `model vN` for a challenger); atomic rewrite per
    file."""
    from cd.github.gate_results import gate_name

    wanted = set(pairs)
    written = []
    for path in [verdicts] if verdicts.is_file() else sorted(verdicts.rglob("*.json")):
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue  # not a verdict; its reader reports it
        if not isinstance(data, dict):
            continue
        candidate = data.get("candidate")
        version = candidate.get("version") if isinstance(candidate, dict) else None
        challenger = version if data.get("challenger") else None
        pair = (
            gate_name(str(data.get("model")), challenger),
            str(data.get("env") or data.get("environment")),
        )
        if pair not in wanted:
            continue
        data["override"] = {
            "by": override.by,
            "reason": override.reason,
            "at": override.at,
            "url": override.url,
        }
        write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def override_from_event(ws: Workspace, verdicts: Path | None) -> OverrideOutcome | None:
    """`modelcd override`: handle this run's issue_comment event (None: not an override request)."""
    from cd.github.actions import read_event

    comment = read_event(ws.environ).issue_comment()
    client = ws.github()
    return handle_override_comment(
        client, comment, ws.config, org_client=ws.org_github(client), verdicts=verdicts
    )

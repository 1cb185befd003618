"""`modelcd approvals`: each environment's approval policy against the PR's reviews, read through the API,
with a `modelcd/approvals <env>` commit status per environment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from cd.config.model import Environment
from cd.github.api import GitHubClient, ReviewInfo, TeamsUnreadable
from cd.github.approval_policy import ApprovalDecision, Review, evaluate_approvals, latest_decisive_reviews

if TYPE_CHECKING:
    from cd.workspace import Workspace


def team_memberships(
    client: GitHubClient, teams: tuple[str, ...], logins: set[str], *, org_token: bool
) -> dict[str, frozenset[str]]:
    """For each "org/slug" in `teams`, which of `logins` (lower-cased) are active members. `org_token`:
    `client` holds MODELCD_ORG_TOKEN, which sees the organisation's teams, so a 404 means "not a
    member"; with GITHUB_TOKEN it proves nothing (TeamsUnreadable)."""
    members: dict[str, frozenset[str]] = {}
    for team in teams:
        org, _, slug = team.partition("/")
        members[team] = frozenset(
            login.lower()
            for login in sorted(logins)
            if client.team_member(org, slug, login, absence_is_proof=org_token)
        )
    return members


def _review(info: ReviewInfo) -> Review:
    return Review(
        id=info.id,
        reviewer=info.user,
        state=info.state,
        commit_id=info.commit_id,
        submitted_at=info.submitted_at or "",
    )


def check_approvals(
    client: GitHubClient, pr_number: int, env: Environment, org_client: GitHubClient | None = None
) -> ApprovalDecision:
    """Evaluate `env.approvals` for PR `pr_number`. Team membership is read with `org_client` when given
    (the default GITHUB_TOKEN cannot read organisation teams)."""
    pull = client.pull_request(pr_number)
    reviews = [_review(r) for r in client.pull_reviews(pr_number)]
    approvers = {
        r.reviewer for r in latest_decisive_reviews(reviews).values() if r.state.upper() == "APPROVED"
    }
    teams = (
        team_memberships(
            org_client or client, env.approvals.teams, approvers, org_token=org_client is not None
        )
        if env.approvals.teams
        else {}
    )
    return evaluate_approvals(
        env.name,
        env.approvals,
        author=pull.author,
        head_sha=pull.head_sha,
        reviews=reviews,
        team_members=teams,
    )


@dataclass(frozen=True)
class ApprovalsRun:
    pr: int
    decisions: tuple[ApprovalDecision, ...]  # empty: the PR changes no environment
    unchanged: tuple[str, ...] = ()  # environments the PR does not change: their status passes

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(d.env for d in self.decisions if not d.satisfied)


def environments_changed(files: Sequence[str]) -> list[str]:
    """Environment names whose `environments/<env>.yaml` is among `files`."""
    return [PurePosixPath(f).stem for f in files if f.startswith("environments/") and f.endswith(".yaml")]


def check_pull_approvals(
    ws: Workspace,
    pr: int,
    envs: Sequence[str],
    *,
    changed: bool,
    set_status: bool | None,
    sha: str | None = None,
) -> ApprovalsRun:
    """Check the named environments (and, with `changed`, every environment whose file the PR changes)
    against PR `pr`'s reviews; set a status per environment when asked (default: inside Actions), on
    `sha` (a merge group's commit) or else the PR's head."""
    client = ws.github()
    names = list(envs)
    if changed:
        names += [n for n in environments_changed(client.pull_files(pr)) if n in ws.config.environments]
    names = list(dict.fromkeys(names))
    # Every environment gets its status, so branch protection can require `modelcd/approvals <env>`:
    # one the PR does not change passes, instead of never arriving.
    unchanged = tuple(n for n in ws.config.promotion_order() if n not in names) if changed else ()
    statuses = set_status if set_status is not None else ws.in_actions()
    head = sha or client.pull_request(pr).head_sha
    if statuses:
        for name in unchanged:
            client.create_status(
                head, "success", f"modelcd/approvals {name}", f"#{pr} does not change {name}"
            )
    if not names:
        return ApprovalsRun(pr, (), unchanged)
    environments = [ws.environment(name) for name in names]
    org_client = ws.org_github(client)
    decisions = []
    for env in environments:
        try:
            decision = check_approvals(client, pr, env, org_client)
        except TeamsUnreadable:  # a refusal with a status, never a crash without one
            if statuses:
                description = f"cannot read team membership for {env.name}: set MODELCD_ORG_TOKEN"
                client.create_status(head, "failure", f"modelcd/approvals {env.name}", description)
            raise
        if statuses:
            state = "success" if decision.satisfied else "failure"
            client.create_status(head, state, f"modelcd/approvals {env.name}", decision.summary)
        decisions.append(decision)
    return ApprovalsRun(pr, tuple(decisions), unchanged)

"""`modelcd approvals`: an environment's approval policy against the PR's reviews, via the API."""

from __future__ import annotations

from cd.config.model import Environment
from cd.github.api import GitHubClient, ReviewInfo
from cd.github.approvals import ApprovalDecision, Review, evaluate_approvals, latest_decisive_reviews


def team_memberships(
    client: GitHubClient, teams: tuple[str, ...], logins: set[str]
) -> dict[str, frozenset[str]]:
    """For each "org/slug" in `teams`, which of `logins` (lower-cased) are active members."""
    members: dict[str, frozenset[str]] = {}
    for team in teams:
        org, _, slug = team.partition("/")
        members[team] = frozenset(
            login.lower() for login in sorted(logins) if client.team_member(org, slug, login)
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
        team_memberships(org_client or client, env.approvals.teams, approvers) if env.approvals.teams else {}
    )
    return evaluate_approvals(
        env.name,
        env.approvals,
        author=pull.author,
        head_sha=pull.head_sha,
        reviews=reviews,
        team_members=teams,
    )

"""An environment's approval policy (count, teams) against a PR's reviews. Pure.

Rules: only each reviewer's latest decisive review counts (APPROVED, CHANGES_REQUESTED or DISMISSED;
a COMMENTED review changes nothing); an approval counts only on the PR's head commit (a push after the
approval makes it stale); the PR author's own approval never counts; when the policy names teams, the
approver must belong to one of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cd.config.model import Approvals

DECISIVE_STATES = frozenset({"APPROVED", "CHANGES_REQUESTED", "DISMISSED"})


@dataclass(frozen=True)
class Review:
    id: int
    reviewer: str
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED | PENDING
    commit_id: str
    submitted_at: str = ""  # ISO 8601; reviews are ordered by it, then by id


@dataclass(frozen=True)
class ApprovalDecision:
    env: str
    required: int
    teams: tuple[str, ...]
    counted: tuple[str, ...]  # reviewers whose approval counts
    ignored: tuple[tuple[str, str], ...]  # (reviewer, why their review does not count)

    @property
    def satisfied(self) -> bool:
        return len(self.counted) >= self.required

    @property
    def summary(self) -> str:
        who = f" from {' or '.join(self.teams)}" if self.teams else ""
        text = f"{len(self.counted)} of {self.required} required approvals{who}"
        return text + (" (satisfied)" if self.satisfied else "")


def latest_decisive_reviews(reviews: Iterable[Review]) -> dict[str, Review]:
    """Each reviewer's latest APPROVED / CHANGES_REQUESTED / DISMISSED review, by lower-cased login."""
    latest: dict[str, Review] = {}
    for review in sorted(reviews, key=lambda r: (r.submitted_at, r.id)):
        if review.state.upper() in DECISIVE_STATES:
            latest[review.reviewer.lower()] = review
    return latest


def evaluate_approvals(
    env: str,
    policy: Approvals,
    *,
    author: str,
    head_sha: str,
    reviews: Iterable[Review],
    team_members: Mapping[str, frozenset[str]],
) -> ApprovalDecision:
    """Which reviews count towards `policy`. `team_members` maps "org/slug" to lower-cased logins."""
    counted: list[str] = []
    ignored: list[tuple[str, str]] = []
    for login, review in sorted(latest_decisive_reviews(reviews).items()):
        name = review.reviewer
        state = review.state.upper()
        if state != "APPROVED":
            ignored.append(
                (name, "changes requested" if state == "CHANGES_REQUESTED" else "approval dismissed")
            )
        elif login == author.lower():
            ignored.append((name, "the author's own approval never counts"))
        elif review.commit_id != head_sha:
            ignored.append(
                (name, f"approved an older commit {review.commit_id[:7]}, not the head {head_sha[:7]}")
            )
        elif policy.teams and not any(login in team_members.get(t, frozenset()) for t in policy.teams):
            ignored.append((name, f"not a member of {' or '.join(policy.teams)}"))
        else:
            counted.append(name)
    return ApprovalDecision(
        env=env, required=policy.required, teams=policy.teams, counted=tuple(counted), ignored=tuple(ignored)
    )


def render_decision(decision: ApprovalDecision) -> str:
    """Markdown for the job summary / command output."""
    mark = "✅" if decision.satisfied else "❌"
    lines = [f"{mark} **{decision.env}**: {decision.summary}"]
    lines += [f"- @{name}: counts" for name in decision.counted]
    lines += [f"- @{name}: does not count ({why})" for name, why in decision.ignored]
    return "\n".join(lines) + "\n"

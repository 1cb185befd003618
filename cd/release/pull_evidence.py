"""What the merged promotion PR adds to a release: the approvals on it and any gate override.

`override_from_pull` is pure; `gather_pull_evidence` is the edge that asks GitHub. The override is read
back from where `/modelcd override` left it: the gate status on the PR's head commit names who
overrode, and the comment that status links to holds the whole reason (a status keeps 140 characters).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cd.github.comment import parse_status_context
from cd.github.gate_results import Override
from cd.github.override import parse_grant_record, parse_override_status
from cd.release.inputs import approvals_from_reviews
from cd.release.model import Approval

if TYPE_CHECKING:
    from cd.github.api import CommentInfo, GitHubClient, StatusInfo


@dataclass(frozen=True)
class GateOverride:
    environment: str
    override: Override


@dataclass(frozen=True)
class PullEvidence:
    number: int
    approvals: tuple[Approval, ...]
    override: GateOverride | None = None


def overridden_gates(
    statuses: Sequence[StatusInfo], model: str, environment: str | None
) -> list[tuple[str, Override]]:
    """(environment, override as the status tells it) for each green `modelcd/gate <model>@<env>`
    status that says it was overridden; only `environment`'s when given. `model` is the gate's name:
    `churn v3` for a challenger's gate (`cd.github.gate_results.gate_name`)."""
    found = []
    for status in statuses:
        pair = parse_status_context(status.context)
        parsed = parse_override_status(status.description)
        if status.state != "success" or pair is None or parsed is None or pair[0] != model:
            continue
        if environment is None or pair[1] == environment:
            found.append((pair[1], Override(by=parsed[0], reason=parsed[1], url=status.target_url or "")))
    return found


def override_from_pull(
    statuses: Sequence[StatusInfo], comments: Sequence[CommentInfo], model: str, environment: str | None
) -> GateOverride | None:
    """The first override of `model`'s gate on the PR: who from the status; the reason and time as they
    were when modelcd granted it, from its reply's grant record (`cd.github.override.grant_record`),
    never from the request comment, which its author can edit later. Without a record, the status's
    own (possibly clipped) text."""
    for env, told in overridden_gates(statuses, model, environment):
        grant = next(
            (
                record
                for c in comments
                if c.user_type == "Bot"
                and (record := parse_grant_record(c.body)) is not None
                and record["url"] == told.url
                and record["by"].lower() == told.by.lower()
            ),
            None,
        )
        if grant is None:
            return GateOverride(env, told)
        return GateOverride(env, Override(told.by, grant["reason"], grant.get("at", ""), told.url))
    return None


def gather_pull_evidence(
    client: GitHubClient, number: int | None, commit: str, model: str, environment: str | None
) -> PullEvidence | None:
    """Evidence from PR `number`, or (None) from the merged PR whose merge commit is `commit`; None
    when no merged PR has that merge commit (a direct push)."""
    pull = client.pull_request(number) if number is not None else client.merged_pull_for_commit(commit)
    if pull is None:
        return None
    reviews = [(r.user, r.state, r.commit_id) for r in client.pull_reviews(pull.number)]
    approvals = approvals_from_reviews(reviews, pull.author, pull.head_sha)
    _, statuses = client.combined_status(pull.head_sha)
    override = None
    if overridden_gates(statuses, model, environment):
        override = override_from_pull(statuses, client.issue_comments(pull.number), model, environment)
    return PullEvidence(pull.number, approvals, override)

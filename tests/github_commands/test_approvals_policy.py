"""The approval policy against reviews: latest per reviewer, head commit only, never the author's own."""

from __future__ import annotations

from cd.config.model import Approvals
from cd.github.approval_policy import ApprovalDecision, Review, evaluate_approvals, render_decision

HEAD = "h" * 40
OLD = "o" * 40
LEADS = {"acme/ml-leads": frozenset({"lee", "kim"})}


def _review(
    reviewer: str, state: str = "APPROVED", commit: str = HEAD, at: str = "2026-11-21T10:00:00Z", id: int = 1
) -> Review:
    return Review(id=id, reviewer=reviewer, state=state, commit_id=commit, submitted_at=at)


def _decide(reviews: list[Review], required: int = 1, teams: tuple[str, ...] = ()) -> ApprovalDecision:
    return evaluate_approvals(
        "production",
        Approvals(required=required, teams=teams),
        author="dana",
        head_sha=HEAD,
        reviews=reviews,
        team_members=LEADS,
    )


def test_an_approval_on_the_head_commit_counts() -> None:
    decision = _decide([_review("lee")])
    assert (decision.satisfied, decision.counted) == (True, ("lee",))


def test_the_authors_own_approval_never_counts() -> None:
    decision = _decide([_review("dana"), _review("DANA", id=2)])
    assert decision.satisfied is False
    assert decision.ignored == (("DANA", "the author's own approval never counts"),)


def test_an_approval_of_an_older_commit_is_stale() -> None:
    decision = _decide([_review("lee", commit=OLD)])
    assert decision.counted == ()
    assert decision.ignored == (("lee", "approved an older commit ooooooo, not the head hhhhhhh"),)


def test_changes_requested_after_an_approval_supersedes_it() -> None:
    decision = _decide(
        [
            _review("lee", at="2026-11-21T10:00:00Z"),
            _review("lee", "CHANGES_REQUESTED", at="2026-11-21T11:00:00Z", id=2),
        ]
    )
    assert decision.ignored == (("lee", "changes requested"),)


def test_a_comment_after_an_approval_changes_nothing() -> None:
    decision = _decide(
        [
            _review("lee", at="2026-11-21T10:00:00Z"),
            _review("lee", "COMMENTED", at="2026-11-21T11:00:00Z", id=2),
        ]
    )
    assert decision.counted == ("lee",)


def test_a_dismissed_approval_does_not_count() -> None:
    decision = _decide([_review("lee"), _review("lee", "DISMISSED", at="2026-11-21T12:00:00Z", id=2)])
    assert decision.ignored == (("lee", "approval dismissed"),)


def test_teams_restrict_who_counts() -> None:
    decision = _decide([_review("lee"), _review("sam", id=2)], required=2, teams=("acme/ml-leads",))
    assert (decision.satisfied, decision.counted) == (False, ("lee",))
    assert decision.ignored == (("sam", "not a member of acme/ml-leads"),)
    assert decision.summary == "1 of 2 required approvals from acme/ml-leads"


def test_two_team_approvals_satisfy_production() -> None:
    decision = _decide([_review("lee"), _review("kim", id=2)], required=2, teams=("acme/ml-leads",))
    assert decision.satisfied
    assert render_decision(decision) == (
        "✅ **production**: 2 of 2 required approvals from acme/ml-leads (satisfied)\n- @kim: counts\n- @lee: counts\n"
    )


def test_no_required_approvals_is_satisfied_without_reviews() -> None:
    assert _decide([], required=0).satisfied

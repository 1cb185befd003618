"""Parsing `/modelcd override <reason>` and deciding who may override."""

from __future__ import annotations

from cd.github.override import OverrideDecision, OverrideRequest, decide_override, parse_override_comment

LEADS = {"acme/ml-leads": frozenset({"lee"})}


def _decide(
    commenter: str = "lee",
    permission: str = "write",
    teams: tuple[str, ...] = ("acme/ml-leads",),
    reason: str = "noise",
) -> OverrideDecision:
    return decide_override(
        OverrideRequest(reason),
        commenter=commenter,
        pr_author="dana",
        permission=permission,
        required_teams=teams,
        team_members=LEADS,
    )


def test_the_reason_is_the_rest_of_the_comment() -> None:
    assert parse_override_comment("/modelcd override  label noise in\nthe EU slice ") == OverrideRequest(
        "label noise in the EU slice"
    )


def test_other_comments_are_not_requests() -> None:
    assert parse_override_comment("LGTM") is None
    assert parse_override_comment("please /modelcd override this") is None
    assert parse_override_comment("/modelcd overrides") is None


def test_an_empty_reason_is_a_request_that_is_refused() -> None:
    request = parse_override_comment("/modelcd override")
    assert request == OverrideRequest("")
    assert _decide(reason="") == OverrideDecision(
        False, "an override needs a reason: `/modelcd override <reason>`"
    )


def test_a_team_member_with_write_access_may_override() -> None:
    assert _decide() == OverrideDecision(True, "@lee (acme/ml-leads)")


def test_the_pr_author_may_not_override() -> None:
    assert _decide(commenter="Dana").why == "@Dana opened this PR; the author cannot override its own gates"


def test_read_access_is_not_enough() -> None:
    assert (
        _decide(permission="read").why
        == "@lee has read access to this repository; overriding needs write access"
    )


def test_outside_the_approver_teams_is_refused() -> None:
    decision = _decide(commenter="sam")
    assert decision == OverrideDecision(
        False, "@sam is not a member of acme/ml-leads, the approvers of the affected environments"
    )


def test_without_teams_write_access_suffices() -> None:
    assert _decide(commenter="sam", teams=()) == OverrideDecision(True, "@sam (write access)")

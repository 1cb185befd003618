"""Reading a gate override back from the merged PR: the status says who, modelcd's grant record says why."""

from __future__ import annotations

from cd.github.api import CommentInfo, StatusInfo
from cd.github.gate_results import Override
from cd.github.override import (
    grant_record,
    override_status_description,
    parse_grant_record,
    parse_override_status,
)
from cd.release.pull_evidence import GateOverride, override_from_pull

URL = "https://github.com/acme/churn/pull/7#issuecomment-555"
LONG_REASON = "label noise in the EU slice after the October relabelling; " * 4


def overridden(env: str = "production", reason: str = "label noise", state: str = "success") -> StatusInfo:
    description = override_status_description("lee", reason)[:140]  # GitHub keeps 140 characters
    return StatusInfo(f"modelcd/gate churn@{env}", state, description, URL)


def test_the_status_description_round_trips_to_user_and_reason() -> None:
    assert parse_override_status(override_status_description("lee", "label noise: EU")) == (
        "lee",
        "label noise: EU",
    )


def test_a_gate_summary_is_not_an_override() -> None:
    assert parse_override_status("recall 0.38 < 0.40") is None
    assert parse_override_status(None) is None


def granted(reason: str = LONG_REASON, by: str = "lee", user: str = "github-actions[bot]") -> CommentInfo:
    """modelcd's reply granting the override, with the reason as it was then."""
    body = "Override recorded: ...\n\n" + grant_record(by, reason, "2026-11-21T10:00:00+00:00", URL)
    return CommentInfo(777, user, body, URL + "7", "2026-11-21T10:00:05Z", user_type="Bot")


def test_the_whole_reason_and_its_time_come_from_modelcds_grant_record() -> None:
    found = override_from_pull([overridden(reason=LONG_REASON)], [granted()], "churn", "production")

    assert found == GateOverride(
        "production", Override(by="lee", reason=LONG_REASON, at="2026-11-21T10:00:00+00:00", url=URL)
    )


def test_an_edit_of_the_request_comment_after_the_grant_changes_nothing() -> None:
    edited = CommentInfo(
        555, "lee", "/modelcd override actually, no reason at all", URL, "2026-11-21T10:00:00Z"
    )

    found = override_from_pull(
        [overridden(reason="label noise")], [edited, granted("label noise")], "churn", None
    )

    assert found is not None and found.override.reason == "label noise"


def test_without_the_grant_record_the_status_text_is_the_reason() -> None:
    found = override_from_pull([overridden()], [], "churn", None)

    assert found == GateOverride("production", Override(by="lee", reason="label noise", url=URL))


def test_a_grant_record_written_by_a_person_is_not_the_reason() -> None:
    forged = CommentInfo(556, "mallory", granted("something else entirely").body, URL + "6", user_type="User")

    found = override_from_pull([overridden()], [forged], "churn", "production")

    assert found is not None and found.override.reason == "label noise"


def test_a_reason_with_comment_syntax_round_trips_through_the_record() -> None:
    reason = "see <!-- this --> and -- that"
    assert parse_grant_record(grant_record("lee", reason, "", URL)) == {
        "by": "lee",
        "reason": reason,
        "at": "",
        "url": URL,
    }


def test_overrides_of_other_environments_models_or_failed_statuses_do_not_count() -> None:
    statuses = [
        overridden(env="staging"),
        StatusInfo("modelcd/gate fraud@production", "success", "overridden by @lee: x", URL),
        overridden(state="failure"),
    ]

    assert override_from_pull(statuses, [], "churn", "production") is None

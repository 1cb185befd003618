"""Reading a gate override back from the merged PR: the status says who, the linked comment says why."""

from __future__ import annotations

from cd.github.api import CommentInfo, StatusInfo
from cd.github.gate_results import Override
from cd.github.override import override_status_description, parse_override_status
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


def test_the_whole_reason_and_its_time_come_from_the_linked_override_comment() -> None:
    comment = CommentInfo(555, "lee", f"/modelcd override {LONG_REASON}", URL, "2026-11-21T10:00:00Z")

    found = override_from_pull([overridden(reason=LONG_REASON)], [comment], "churn", "production")

    assert found == GateOverride(
        "production", Override(by="lee", reason=LONG_REASON.strip(), at="2026-11-21T10:00:00Z", url=URL)
    )


def test_without_the_comment_the_status_text_is_the_reason() -> None:
    found = override_from_pull([overridden()], [], "churn", None)

    assert found == GateOverride("production", Override(by="lee", reason="label noise", url=URL))


def test_a_comment_by_someone_else_at_that_link_is_not_the_reason() -> None:
    comment = CommentInfo(555, "mallory", "/modelcd override something else entirely", URL)

    found = override_from_pull([overridden()], [comment], "churn", "production")

    assert found is not None and found.override.reason == "label noise"


def test_overrides_of_other_environments_models_or_failed_statuses_do_not_count() -> None:
    statuses = [
        overridden(env="staging"),
        StatusInfo("modelcd/gate fraud@production", "success", "overridden by @lee: x", URL),
        overridden(state="failure"),
    ]

    assert override_from_pull(statuses, [], "churn", "production") is None

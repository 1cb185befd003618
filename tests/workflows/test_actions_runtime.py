"""The Actions runtime, with a simulated runner: event files, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cd.errors import UsageError
from cd.github.actions import (
    annotation,
    append_summary,
    escape_data,
    escape_property,
    format_output,
    in_actions,
    is_fork_pr,
    read_event,
    run_url,
    set_output,
)
from tests.workflows.events import (
    Runner,
    issue_comment_event,
    pull_request_event,
    push_event,
    workflow_dispatch_event,
)


def test_pull_request_payload_gives_number_shas_refs_and_author(tmp_path: Path) -> None:
    runner = Runner(
        tmp_path, "pull_request", pull_request_event(number=7, head_sha="1" * 40, base_sha="2" * 40)
    )
    pr = read_event(runner.env()).pull_request()
    assert (pr.number, pr.head_sha, pr.base_sha, pr.head_ref, pr.base_ref, pr.author) == (
        7,
        "1" * 40,
        "2" * 40,
        "bump-churn",
        "main",
        "dana",
    )
    assert pr.is_fork is False


def test_a_pr_from_another_repository_is_a_fork(tmp_path: Path) -> None:
    runner = Runner(tmp_path, "pull_request", pull_request_event(head_repo="mallory/models"))
    assert is_fork_pr(read_event(runner.env())) is True


def test_a_pr_whose_fork_was_deleted_is_a_fork(tmp_path: Path) -> None:
    runner = Runner(tmp_path, "pull_request", pull_request_event(head_repo=None))
    assert is_fork_pr(read_event(runner.env())) is True


def test_push_is_never_a_fork_pr_and_knows_its_branch(tmp_path: Path) -> None:
    runner = Runner(tmp_path, "push", push_event(before="0" * 40))
    event = read_event(runner.env())
    assert is_fork_pr(event) is False
    push = event.push()
    assert (push.branch, push.is_first_push, push.after) == ("main", True, "d" * 40)


def test_issue_comment_payload_gives_body_commenter_and_pr(tmp_path: Path) -> None:
    runner = Runner(
        tmp_path, "issue_comment", issue_comment_event(body="/modelcd override hotfix", commenter="lee")
    )
    comment = read_event(runner.env()).issue_comment()
    assert (comment.body, comment.commenter, comment.issue_number, comment.is_pull_request) == (
        "/modelcd override hotfix",
        "lee",
        42,
        True,
    )


def test_issue_comment_on_a_plain_issue_is_not_on_a_pull_request(tmp_path: Path) -> None:
    runner = Runner(tmp_path, "issue_comment", issue_comment_event(body="hi", on_pull_request=False))
    assert read_event(runner.env()).issue_comment().is_pull_request is False


def test_workflow_dispatch_inputs_are_strings(tmp_path: Path) -> None:
    payload = workflow_dispatch_event({"model": "churn", "from": "staging", "to": "production"})
    dispatch = read_event(Runner(tmp_path, "workflow_dispatch", payload).env()).workflow_dispatch()
    assert dict(dispatch.inputs) == {"model": "churn", "from": "staging", "to": "production"}


def test_asking_for_the_wrong_event_kind_is_a_usage_error(tmp_path: Path) -> None:
    event = read_event(Runner(tmp_path, "push", push_event()).env())
    with pytest.raises(
        UsageError,
        match=r"needs a pull_request or pull_request_target or pull_request_review event, but GITHUB_EVENT_NAME is 'push'",
    ):
        event.pull_request()


def test_missing_event_variables_say_we_are_not_in_actions() -> None:
    with pytest.raises(UsageError, match="not inside a GitHub Actions run"):
        read_event({})


def test_an_unreadable_payload_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "event.json"
    bad.write_text("{not json")
    with pytest.raises(UsageError, match=f"{bad}:1: the event payload is not valid JSON"):
        read_event({"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": str(bad)})


def test_a_payload_missing_a_field_names_it(tmp_path: Path) -> None:
    payload = pull_request_event()
    del payload["pull_request"]["head"]["sha"]
    event = read_event(Runner(tmp_path, "pull_request", payload).env())
    with pytest.raises(UsageError, match=r"has no field 'pull_request\.head\.sha'"):
        event.pull_request()


def test_set_output_round_trips_multiline_values_through_the_runner_format(tmp_path: Path) -> None:
    runner = Runner(tmp_path, "push", push_event())
    matrix = json.dumps({"include": [{"env": "staging", "model": "churn"}]}, indent=2)
    assert set_output("matrix", matrix, runner.env())
    assert set_output("count", "1", runner.env())
    assert set_output("tricky", "a=b\nname<<EOF\nEOF", runner.env())
    assert runner.outputs() == {"matrix": matrix, "count": "1", "tricky": "a=b\nname<<EOF\nEOF"}


def test_set_output_outside_actions_writes_nothing() -> None:
    assert set_output("matrix", "{}", {}) is False


def test_output_names_cannot_inject_lines() -> None:
    with pytest.raises(UsageError, match="invalid step output name"):
        format_output("a\nb", "x")


def test_output_delimiters_are_random() -> None:
    assert format_output("x", "1") != format_output("x", "1")


def test_append_summary_appends_markdown(tmp_path: Path) -> None:
    runner = Runner(tmp_path, "push", push_event())
    append_summary("# one", runner.env())
    append_summary("two\n", runner.env())
    assert runner.summary() == "# one\ntwo\n"
    assert append_summary("x", {}) is False


def test_annotation_escapes_message_and_properties() -> None:
    line = annotation(
        "error",
        "50% worse\r\nsee: docs",
        file="environments/a,b.yaml",
        line=3,
        title="gate: churn@production",
    )
    assert line == (
        "::error file=environments/a%2Cb.yaml,line=3,title=gate%3A churn@production::50%25 worse%0D%0Asee: docs"
    )


def test_annotation_without_properties() -> None:
    assert annotation("warning", "careful") == "::warning::careful"


def test_escaping_rules_match_the_actions_toolkit() -> None:
    assert escape_data("%\r\n:,") == "%25%0D%0A:,"
    assert escape_property("%\r\n:,") == "%25%0D%0A%3A%2C"


def test_run_url_and_in_actions(tmp_path: Path) -> None:
    env = Runner(tmp_path, "push", push_event()).env()
    assert run_url(env) == "https://github.com/acme/models/actions/runs/123456"
    assert in_actions(env) and not in_actions({})
    assert run_url({}) is None

"""`modelcd/required`, the one status branch protection requires: decided from job results and gates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cd.errors import UsageError
from cd.github.actions import merge_group_pull
from cd.github.gate_results import GateResult
from cd.github.required_check import read_needs, required_state


def needs(**results: str) -> str:
    return json.dumps({job: {"result": result, "outputs": {}} for job, result in results.items()})


def gate(outcome: str, model: str = "churn", env: str = "production") -> GateResult:
    return GateResult(env, model, outcome, "recall 0.38 < 0.40")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("results", "gates", "overridden", "expected"),
    [
        (
            {"plan": "success", "gate": "skipped", "report": "success"},
            [],
            set(),
            ("success", "no promotion to gate"),
        ),
        (
            {"plan": "success", "gate": "success", "report": "skipped"},
            [gate("pass")],
            set(),
            ("success", "1 gate passed"),
        ),
        (
            {"plan": "success", "gate": "failure", "report": "success"},
            [gate("fail")],
            set(),
            ("failure", "gates not passed: churn@production"),
        ),
        (
            {"plan": "success", "gate": "failure", "report": "success"},
            [gate("fail")],
            {"churn@production"},
            ("success", "1 gate passed (1 overridden)"),
        ),
        (
            {"plan": "success", "gate": "failure", "report": "success"},
            [gate("missing")],
            set(),
            ("failure", "gates not passed: churn@production"),
        ),
        (
            {"plan": "failure", "gate": "skipped", "report": "skipped"},
            [],
            set(),
            ("failure", "job plan failure: see the workflow run"),
        ),
        (
            {"plan": "success", "gate": "skipped", "report": "cancelled"},
            [],
            set(),
            ("failure", "job report cancelled: see the workflow run"),
        ),
    ],
)
def test_required_state(
    results: dict[str, str], gates: list[GateResult], overridden: set[str], expected: tuple[str, str]
) -> None:
    assert required_state(read_needs(needs(**results), "needs"), gates, frozenset(overridden)) == expected


def test_a_needs_context_that_is_not_one_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"\$MODELCD_NEEDS: job 'plan' has no `result`"):
        read_needs('{"plan": {}}', "$MODELCD_NEEDS")


def test_a_merge_group_names_its_pull_request_in_the_queue_branch(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "merge_group": {
                    "head_ref": "refs/heads/gh-readonly-queue/main/pr-42-" + "a" * 40,
                    "head_sha": "b" * 40,
                }
            }
        )
    )
    assert merge_group_pull({"GITHUB_EVENT_NAME": "merge_group", "GITHUB_EVENT_PATH": str(event)}) == (
        42,
        "b" * 40,
    )


def test_outside_a_merge_group_the_pull_request_must_be_named(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text("{}")
    with pytest.raises(UsageError, match="say which pull request with --pr"):
        merge_group_pull({"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(event)})

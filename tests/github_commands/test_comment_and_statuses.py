"""Rendering the sticky comment and the commit statuses from the plan and the gate verdicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cd.errors import UsageError
from cd.github.comment import STICKY_MARKER, parse_status_context, render_comment, status_context, status_for
from cd.github.gate_results import (
    GateResult,
    Outcome,
    Override,
    PlannedChange,
    parse_matrix,
    read_verdicts,
    results_for_plan,
)

PROMOTE = PlannedChange("production", "churn", "promoted", 1, 2)
RECONFIGURE = PlannedChange("staging", "churn", "reconfigured", 1, 1)


def _result(outcome: Outcome = "pass", **kw: Any) -> GateResult:
    return GateResult(
        env="production", model="churn", outcome=outcome, summary=kw.pop("summary", "roc_auc +0.02"), **kw
    )


def test_the_comment_starts_with_the_hidden_marker() -> None:
    assert render_comment([PROMOTE], [_result()]).startswith(STICKY_MARKER + "\n")


def test_the_comment_shows_the_plan_table_with_each_gate_mark() -> None:
    body = render_comment([PROMOTE, RECONFIGURE], [_result("fail", summary="recall below 0.40")])
    assert "## modelcd: 1 of 1 gate not passed" in body
    assert "| production | churn | promoted | v1 | v2 | ❌ fail |" in body
    assert "| staging | churn | reconfigured | v1 | v1 | not gated |" in body


def test_the_comment_embeds_each_report_and_opens_failed_ones() -> None:
    report = "| metric | candidate |\n| --- | --- |\n\n```mermaid\nxychart-beta\n```"
    body = render_comment([PROMOTE], [_result("fail", summary="worse", report_markdown=report)])
    assert "<details open>\n<summary>churn@production: ❌ fail — worse</summary>" in body
    assert "```mermaid\nxychart-beta\n```" in body


def test_passed_reports_are_collapsed() -> None:
    assert "<details>\n<summary>churn@production: ✅ pass" in render_comment([PROMOTE], [_result()])


def test_the_comment_links_the_run_and_names_the_commit() -> None:
    body = render_comment(
        [PROMOTE], [_result()], run_url="https://github.com/acme/models/actions/runs/9", head_sha="abcdef1234"
    )
    assert body.rstrip().endswith(
        "[workflow run](https://github.com/acme/models/actions/runs/9) · for `abcdef1`"
    )


def test_a_plan_without_changes_says_so() -> None:
    assert "## modelcd: no changes to deployed models" in render_comment([], [])


def test_huge_reports_are_cut_to_fit_a_comment() -> None:
    body = render_comment([PROMOTE], [_result(report_markdown="x" * 70_000)])
    assert len(body) < 65_536
    assert "churn@production: report too long for a comment; see the job summary." in body


def test_an_override_shows_in_the_comment_and_turns_the_status_green() -> None:
    result = _result("overridden", override=Override(by="lee", reason="known label noise"))
    assert "> Overridden by @lee: known label noise" in render_comment([PROMOTE], [result])
    status = status_for(result)
    assert (status.context, status.state, status.description) == (
        "modelcd/gate churn@production",
        "success",
        "overridden by @lee: known label noise",
    )


@pytest.mark.parametrize(
    ("outcome", "state"),
    [
        ("pass", "success"),
        ("fail", "failure"),
        ("inconclusive", "failure"),
        ("error", "error"),
        ("missing", "error"),
    ],
)
def test_status_state_per_outcome(outcome: Outcome, state: str) -> None:
    assert status_for(_result(outcome)).state == state


def test_status_descriptions_fit_githubs_140_characters() -> None:
    description = status_for(_result("fail", summary="y" * 500)).description
    assert len(description) == 140 and description.endswith("…")


def test_status_context_round_trips() -> None:
    assert status_context("churn", "production") == "modelcd/gate churn@production"
    assert parse_status_context("modelcd/gate churn@production") == ("churn", "production")
    assert parse_status_context("ci/test") is None


def test_a_planned_gate_without_a_verdict_is_missing_not_passed() -> None:
    (result,) = results_for_plan([PROMOTE], {})
    assert (result.outcome, result.passed, result.candidate_version) == ("missing", False, 2)


def test_reconfigurations_and_removals_are_not_gated() -> None:
    removal = PlannedChange("staging", "old", "removed", 3, None)
    assert results_for_plan([RECONFIGURE, removal], {}) == ()


def test_verdict_files_are_read_with_their_markdown_report(tmp_path: Path) -> None:
    (tmp_path / "production-churn.json").write_text(
        json.dumps(
            {
                "env": "production",
                "model": "churn",
                "verdict": "fail",
                "summary": "2 checks failed",
                "candidate": {"version": 2},
                "incumbent": {"version": 1},
            }
        )
    )
    (tmp_path / "production-churn.md").write_text("# report\n")
    result = read_verdicts(tmp_path)["churn@production"]
    assert (
        result.outcome,
        result.summary,
        result.report_markdown,
        result.candidate_version,
        result.incumbent_version,
    ) == (
        "fail",
        "2 checks failed",
        "# report\n",
        2,
        1,
    )


def test_a_recorded_override_marks_a_failed_verdict_overridden(tmp_path: Path) -> None:
    (tmp_path / "v.json").write_text(
        json.dumps(
            {
                "environment": "production",
                "model": "churn",
                "verdict": "fail",
                "override": {"by": "lee", "reason": "noise"},
            }
        )
    )
    assert read_verdicts(tmp_path)["churn@production"].outcome == "overridden"


def test_an_unreadable_verdict_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(UsageError, match=r"bad\.json: unreadable gate verdict"):
        read_verdicts(tmp_path)


def test_matrix_parsing_and_its_errors() -> None:
    assert parse_matrix(
        {"include": [{"env": "staging", "model": "churn", "from": 1, "to": 2, "change": "promoted"}]}
    ) == (PlannedChange("staging", "churn", "promoted", 1, 2),)
    with pytest.raises(UsageError, match=r"plan: include\[0\] needs 'env' and 'model'"):
        parse_matrix({"include": [{"env": "staging"}]})
    with pytest.raises(UsageError, match="expected a plan matrix"):
        parse_matrix([1])


def test_a_challengers_verdict_is_its_own_result_status_and_comment_section(tmp_path: Path) -> None:
    for version, verdict, is_challenger in ((2, "pass", False), (3, "fail", True)):
        (tmp_path / f"gate-production-churn-v{version}.json").write_text(
            json.dumps(
                {
                    "env": "production",
                    "model": "churn",
                    "verdict": verdict,
                    "candidate": {"version": version},
                    "incumbent": {"version": 1},
                    **({"challenger": True} if is_challenger else {}),
                }
            )
        )
    challenger = PlannedChange("production", "churn", "challenger", 1, 3)
    results = results_for_plan([PROMOTE, challenger], read_verdicts(tmp_path))
    assert [(r.key, r.outcome) for r in results] == [
        ("churn@production", "pass"),
        ("churn v3@production", "fail"),
    ]
    assert [status_for(r).context for r in results] == [
        "modelcd/gate churn@production",
        "modelcd/gate churn v3@production",
    ]
    assert parse_status_context("modelcd/gate churn v3@production") == ("churn v3", "production")
    body = render_comment([PROMOTE, challenger], list(results))
    assert "## modelcd: 1 of 2 gates not passed" in body
    assert "| production | churn | challenger | v1 | v3 | ❌ fail |" in body
    assert "<summary>churn v3@production: ❌ fail" in body


def test_a_challenger_without_a_verdict_is_missing_under_its_own_key() -> None:
    (result,) = results_for_plan([PlannedChange("production", "churn", "challenger", 1, 3)], {})
    assert (result.key, result.outcome) == ("churn v3@production", "missing")

"""The verdict's versioned JSON layout and the Markdown report rendered from it."""

from __future__ import annotations

import json
import math

import pytest

from cd.config.model import ChangeThreshold, ValueThreshold
from cd.errors import GateError
from cd.gates.report import build_charts, render_markdown, render_text
from cd.gates.thresholds import Estimate
from cd.gates.verdict import (
    CheckResult,
    DatasetInfo,
    GateSource,
    GateVerdict,
    ModelVersionInfo,
    load_verdict,
)


def check(slice_: str, outcome: str, cand: float, inc: float, reasons: tuple[str, ...] = ()) -> CheckResult:
    return CheckResult(
        metric="roc_auc",
        higher_is_better=True,
        slice_spec="overall" if slice_ == "overall" else "plan",
        slice=slice_,
        examples=480,
        candidate=Estimate(cand, cand - 0.02, cand + 0.02),
        incumbent=Estimate(inc, inc - 0.02, inc + 0.02),
        delta=Estimate(cand - inc, cand - inc - 0.01, cand - inc + 0.01),
        value_threshold=ValueThreshold(min=0.7),
        change_threshold=ChangeThreshold(absolute=0.01),
        allowed_delta=-0.01,
        outcome=outcome,  # type: ignore[arg-type]
        reasons=reasons,
    )


VERDICT = GateVerdict(
    verdict="fail",
    environment="staging",
    model="churn",
    task="binary_classification",
    candidate=ModelVersionInfo("churn", 3, "run3", "models:/m-3", "a" * 64),
    incumbent=ModelVersionInfo("churn", 2, "run2", "models:/m-2", "b" * 64),
    dataset=DatasetInfo("data/churn_test.csv", "c" * 64, 8000, "churned", pinned=True),
    gate=GateSource(
        "gates/churn.yaml",
        "main",
        "d" * 40,
        "changed_in_pr",
        "confident",
        0.95,
        200,
        7,
        100,
        "value_thresholds",
    ),
    checks=(
        check("overall", "pass", 0.91, 0.918),
        check("plan=premium|x", "fail", 0.56, 0.89, ("roc_auc 0.56 (CI 0.54..0.58) below min 0.7",)),
    ),
    notes=("gates/churn.yaml is changed by this pull request",),
)


def test_json_layout_is_versioned_and_round_trips() -> None:
    data = json.loads(VERDICT.to_json())
    assert (data["schema"], data["schema_version"], data["verdict"]) == ("modelcd/gate-verdict", 1, "fail")
    assert data["summary"] == "churn v3 vs v2 in staging (1 fail, 1 pass)"
    assert data["checks"][1]["thresholds"] == {
        "value": {"min": 0.7, "max": None},
        "change": {"absolute": 0.01, "relative": None},
        "allowed_delta": -0.01,
    }
    assert data["candidate"]["sha256"] == "a" * 64 and data["dataset"]["sha256"] == "c" * 64
    assert load_verdict(VERDICT.to_json()) == VERDICT


def test_nan_is_written_as_null_and_read_back_as_nan() -> None:
    nan_check = check("overall", "fail", math.nan, 0.9)
    verdict = GateVerdict(**{**vars(VERDICT), "checks": (nan_check,)})
    data = json.loads(verdict.to_json())
    assert data["checks"][0]["candidate"]["value"] is None
    assert math.isnan(load_verdict(verdict.to_json()).checks[0].candidate.value)


def test_another_schema_version_is_refused() -> None:
    data = VERDICT.to_dict() | {"schema_version": 2}
    with pytest.raises(
        GateError,
        match=r"^not a gate verdict this version understands: schema='modelcd/gate-verdict' schema_version=2",
    ):
        load_verdict(json.dumps(data))


def test_markdown_has_summary_notes_blocking_checks_table_and_mermaid_chart() -> None:
    md = render_markdown(VERDICT)
    assert (
        "\n\n2 checks ran; error rate controlled: family-wise error rate of false fails ≤ 0.025 (Holm).\n"
        in md
    )
    assert md.startswith(
        "## ❌ Gate FAIL: `churn` v3 → staging\n\n**FAIL: churn v3 vs v2 in staging (1 fail, 1 pass)**\n"
    )
    assert "> [!WARNING]\n> gates/churn.yaml is changed by this pull request\n" in md
    assert "- ❌ **roc_auc** on **plan=premium\\|x**: roc_auc 0.56 (CI 0.54..0.58) below min 0.7\n" in md
    assert (
        "| ❌ | roc_auc | plan=premium\\|x | 480 | – | 0.5600 [0.5400, 0.5800] | 0.8900 [0.8700, 0.9100] "
        "| -0.3300 [-0.3400, -0.3200] | ≥ 0.7, Δ ≥ -0.01 | – |" in md
    )
    assert (
        '```mermaid\nxychart-beta\n    title "roc_auc by slice"\n    x-axis ["overall", "plan=premium|x"]\n'
        in md
    )
    assert "    bar [0.91, 0.56]\n    line [0.918, 0.89]\n```" in md


def test_chart_labels_are_written_as_text_not_json_escapes() -> None:
    bucket = check("overall", "pass", 0.9, 0.9)
    bucket = CheckResult(**{**vars(bucket), "slice_spec": "tenure_months", "slice": "tenure_months=<12"})
    md = render_markdown(GateVerdict(**{**vars(VERDICT), "checks": (bucket,)}))
    assert 'x-axis ["tenure_months=<12"]' in md
    assert "\\u003c" not in md


def test_a_chart_shows_every_blocking_slice_even_past_the_group_limit() -> None:
    failing = tuple(
        CheckResult(**{**vars(check("overall", "fail", 0.6, 0.9)), "slice_spec": "plan", "slice": f"s{i:02}"})
        for i in range(20)
    )
    passing = tuple(
        CheckResult(**{**vars(check("overall", "pass", 0.9, 0.9)), "slice_spec": "plan", "slice": f"p{i:02}"})
        for i in range(5)
    )
    verdict = GateVerdict(**{**vars(VERDICT), "checks": passing + failing})
    [chart] = build_charts(verdict)
    assert chart.labels == [f"s{i:02}" for i in range(20)]


def test_each_metric_with_a_blocking_check_gets_its_chart() -> None:
    recall = CheckResult(**{**vars(check("overall", "fail", 0.3, 0.5)), "metric": "recall"})
    verdict = GateVerdict(**{**vars(VERDICT), "checks": (*VERDICT.checks, recall)})
    assert [c.metric for c in build_charts(verdict)] == ["roc_auc", "recall"]


def test_text_lists_failures_first() -> None:
    text = render_text(VERDICT)
    assert text.splitlines()[:5] == [
        "FAIL: churn v3 vs v2 in staging (1 fail, 1 pass)",
        "  2 checks ran; error rate controlled: family-wise error rate of false fails ≤ 0.025 (Holm).",
        "  Blocking: 1 (1 fail, 0 inconclusive) · underpowered: 0 (cannot confirm their tolerance; not passes, "
        "not blocking) · passed: 1.",
        "  ! gates/churn.yaml is changed by this pull request",
        "  FAIL         roc_auc on plan=premium|x: candidate 0.5600 [0.5400, 0.5800] incumbent 0.8900 "
        "[0.8700, 0.9100] delta -0.3300 [-0.3400, -0.3200]",
    ]

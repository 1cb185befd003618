"""Threshold semantics, table-tested: pass, fail, inconclusive, skipped slice, NaN, no incumbent."""

from __future__ import annotations

import math

import pytest

from cd.config.model import ChangeThreshold, ValueThreshold
from cd.gates.thresholds import CheckInput, Estimate, decide, overall_verdict

NAN = math.nan


def check(
    candidate: Estimate,
    *,
    incumbent: Estimate | None = None,
    delta: Estimate | None = None,
    value: ValueThreshold | None = None,
    change: ChangeThreshold | None = None,
    higher: bool | None = True,
    examples: int = 500,
    overall: bool = False,
    undefined_by_data: str | None = None,
) -> CheckInput:
    return CheckInput(
        "roc_auc" if higher else "log_loss",
        higher,
        examples,
        overall,
        candidate,
        incumbent,
        delta,
        value,
        change,
        undefined_by_data,
    )


MIN_70 = ValueThreshold(min=0.70)
ABS_01 = ChangeThreshold(absolute=0.01)

CASES = [
    # id, input, mode, expected outcome
    ("value point pass", check(Estimate(0.72, 0.65, 0.78), value=MIN_70), "point", "pass"),
    ("value point fail", check(Estimate(0.69, 0.66, 0.75), value=MIN_70), "point", "fail"),
    (
        "value confident pass: CI wholly above",
        check(Estimate(0.80, 0.75, 0.85), value=MIN_70),
        "confident",
        "pass",
    ),
    (
        "value confident fail: CI wholly below",
        check(Estimate(0.60, 0.55, 0.68), value=MIN_70),
        "confident",
        "fail",
    ),
    (
        "value confident inconclusive: CI straddles",
        check(Estimate(0.72, 0.65, 0.78), value=MIN_70),
        "confident",
        "inconclusive",
    ),
    (
        "value max, lower is better",
        check(Estimate(0.50, 0.45, 0.55), value=ValueThreshold(max=0.6), higher=False),
        "confident",
        "pass",
    ),
    (
        "value max exceeded",
        check(Estimate(0.70, 0.65, 0.75), value=ValueThreshold(max=0.6), higher=False),
        "confident",
        "fail",
    ),
    ("value at the bar passes", check(Estimate(0.70, 0.70, 0.70), value=MIN_70), "confident", "pass"),
    (
        "change point pass within tolerance",
        check(Estimate(0.795), incumbent=Estimate(0.80), delta=Estimate(-0.005, -0.02, 0.01), change=ABS_01),
        "point",
        "pass",
    ),
    (
        "change point fail beyond tolerance",
        check(Estimate(0.78), incumbent=Estimate(0.80), delta=Estimate(-0.02, -0.03, -0.01), change=ABS_01),
        "point",
        "fail",
    ),
    (
        "change confident inconclusive",
        check(Estimate(0.795), incumbent=Estimate(0.80), delta=Estimate(-0.005, -0.02, 0.01), change=ABS_01),
        "confident",
        "inconclusive",
    ),
    (
        "change confident pass",
        check(Estimate(0.83), incumbent=Estimate(0.80), delta=Estimate(0.03, 0.01, 0.05), change=ABS_01),
        "confident",
        "pass",
    ),
    (
        "change confident fail",
        check(Estimate(0.70), incumbent=Estimate(0.80), delta=Estimate(-0.10, -0.14, -0.06), change=ABS_01),
        "confident",
        "fail",
    ),
    (
        "change relative tolerance, lower is better: 5% of 0.40 = 0.02",
        check(
            Estimate(0.415),
            incumbent=Estimate(0.40),
            delta=Estimate(0.015, 0.012, 0.018),
            change=ChangeThreshold(relative=0.05),
            higher=False,
        ),
        "confident",
        "pass",
    ),
    (
        "change relative tolerance exceeded, lower is better",
        check(
            Estimate(0.43),
            incumbent=Estimate(0.40),
            delta=Estimate(0.03, 0.025, 0.035),
            change=ChangeThreshold(relative=0.05),
            higher=False,
        ),
        "confident",
        "fail",
    ),
    (
        "absolute or relative: the larger tolerance counts",
        check(
            Estimate(0.77),
            incumbent=Estimate(0.80),
            delta=Estimate(-0.03, -0.035, -0.025),
            change=ChangeThreshold(absolute=0.01, relative=0.05),
        ),
        "confident",
        "pass",
    ),
    (
        "value and change: the worse outcome wins",
        check(
            Estimate(0.69, 0.60, 0.69),
            incumbent=Estimate(0.60),
            delta=Estimate(0.09, 0.05, 0.12),
            value=MIN_70,
            change=ABS_01,
        ),
        "confident",
        "fail",
    ),
    (
        "slice under min_examples is skipped",
        check(Estimate(0.2, 0.1, 0.3), value=MIN_70, examples=99),
        "confident",
        "skipped",
    ),
    (
        "overall under min_examples is inconclusive",
        check(Estimate(0.9, 0.85, 0.95), value=MIN_70, examples=99, overall=True),
        "confident",
        "inconclusive",
    ),
    ("NaN point estimate fails closed", check(Estimate(NAN), value=MIN_70), "point", "fail"),
    (
        "an interval no resample defines is inconclusive",
        check(Estimate(0.9, NAN, NAN, undefined_resamples=200), value=MIN_70),
        "confident",
        "inconclusive",
    ),
    (
        "point mode judges the point value, whatever the resamples",
        check(Estimate(1.0, NAN, NAN, undefined_resamples=1), value=MIN_70),
        "point",
        "pass",
    ),
    (
        "undefined for candidate and incumbent alike is undefined",
        check(Estimate(NAN), incumbent=Estimate(NAN), delta=Estimate(NAN), change=ABS_01),
        "point",
        "undefined",
    ),
    (
        "a slice whose data cannot define the metric is undefined",
        check(Estimate(NAN), value=MIN_70, undefined_by_data="no positives"),
        "confident",
        "undefined",
    ),
    (
        "the overall group undefined by its data is inconclusive",
        check(Estimate(NAN), value=MIN_70, undefined_by_data="no positives", overall=True),
        "confident",
        "inconclusive",
    ),
    (
        "NaN incumbent fails closed",
        check(Estimate(0.9), incumbent=Estimate(NAN), delta=Estimate(NAN), change=ABS_01),
        "point",
        "fail",
    ),
]


@pytest.mark.parametrize(("case", "mode", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decision_table(case: CheckInput, mode: str, expected: str) -> None:
    assert decide(case, mode, min_examples=100, first_deploy="value_thresholds").outcome == expected  # type: ignore[arg-type]


FIRST_DEPLOY = [
    (
        "value_thresholds: value checks are judged",
        check(Estimate(0.8, 0.75, 0.85), value=MIN_70, change=ABS_01),
        "value_thresholds",
        "pass",
    ),
    (
        "value_thresholds: a failing value still fails",
        check(Estimate(0.6, 0.55, 0.65), value=MIN_70, change=ABS_01),
        "value_thresholds",
        "fail",
    ),
    (
        "value_thresholds: change-only checks are skipped",
        check(Estimate(0.8, 0.75, 0.85), change=ABS_01),
        "value_thresholds",
        "skipped",
    ),
    ("fail: every check fails", check(Estimate(0.8, 0.75, 0.85), value=MIN_70), "fail", "fail"),
]


@pytest.mark.parametrize(
    ("case", "policy", "expected"), [c[1:] for c in FIRST_DEPLOY], ids=[c[0] for c in FIRST_DEPLOY]
)
def test_first_deploy_policies(case: CheckInput, policy: str, expected: str) -> None:
    assert decide(case, "confident", min_examples=100, first_deploy=policy).outcome == expected  # type: ignore[arg-type]


def test_reasons_name_the_numbers_and_the_bar() -> None:
    decision = decide(
        check(
            Estimate(0.70, 0.66, 0.74),
            incumbent=Estimate(0.80),
            delta=Estimate(-0.10, -0.14, -0.06),
            change=ABS_01,
        ),
        "confident",
        100,
        "value_thresholds",
    )
    assert decision.reasons == (
        "roc_auc change -0.1 (CI -0.14..-0.06) vs incumbent 0.8: drop exceeds the tolerated 0.01",
    )
    assert decision.allowed_delta == -0.01


def test_skipped_reason_names_the_count() -> None:
    decision = decide(check(Estimate(0.9), value=MIN_70, examples=42), "point", 100, "value_thresholds")
    assert decision.reasons == ("42 examples < min_examples 100",)


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        (["pass", "pass", "skipped"], "pass"),
        (["pass", "inconclusive"], "inconclusive"),
        (["pass", "inconclusive", "fail"], "fail"),
        (["skipped", "skipped"], "inconclusive"),
        ([], "inconclusive"),
    ],
)
def test_overall_verdict(outcomes: list[str], expected: str) -> None:
    assert overall_verdict(outcomes) == expected  # type: ignore[arg-type]

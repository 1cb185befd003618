"""Live quality in canary analysis: the candidate's misclassification rate on labelled live rows against
stable's on the same window, with bounds that stay valid however often the controller looks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest

from cd.config.model import AnalysisPolicy
from cd.rollout.analysis import CapturedSample, analyse
from tests.rollout.conftest import POLICY as POLICY_MOTO
from tests.rollout.conftest import World, canary_steps
from tests.rollout.test_analysis import STABLE, metrics

POLICY = AnalysisPolicy(min_requests=200, max_misclassification_increase=0.02, alpha=0.01)


def labelled(n: int, wrong: int) -> CapturedSample:
    return CapturedSample((0.5,) * 10, {}, n, wrong)


def look(candidate: CapturedSample, stable: CapturedSample, policy: AnalysisPolicy = POLICY):  # type: ignore[no-untyped-def]
    return analyse(
        metrics(3000, seed=2), STABLE, (), policy,
        step_index=0, window_start=0.0, window_end=60.0, captured=(candidate, stable),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("candidate", "stable", "outcome"),
    [
        (labelled(2000, 600), labelled(4000, 400), "fail"),  # 30 % wrong against 10 %
        (labelled(2000, 200), labelled(4000, 400), "pass"),  # alike
        (labelled(2000, 230), labelled(4000, 400), "pass"),  # 1.5 points worse: within the 2-point limit
        (labelled(40, 20), labelled(80, 8), "pass"),  # worse, but too few labels to show it
        (labelled(0, 0), labelled(4000, 400), "skipped"),  # no label has arrived for the candidate
        (labelled(2000, 600), labelled(0, 0), "skipped"),
    ],
)
def test_live_quality_fails_only_when_shown_beyond_the_limit(
    candidate: CapturedSample, stable: CapturedSample, outcome: str
) -> None:
    check = look(candidate, stable).check("live_quality")
    assert check is not None and check.outcome == outcome, check


def test_waiting_for_labels_never_holds_the_step() -> None:
    result = look(labelled(0, 0), labelled(0, 0))
    assert result.phase == "Successful", result.message


def test_the_detail_names_both_rates_and_the_bound() -> None:
    check = look(labelled(2000, 600), labelled(4000, 400)).check("live_quality")
    assert check is not None
    assert check.detail.startswith(
        "misclassified: candidate 600/2000 = 30.00% - stable 400/4000 = 10.00% = 20.00%, lower bound"
    )
    assert check.value == pytest.approx(0.2) and check.lower is not None and 0.1 < check.lower < 0.2


def failed_rollouts(candidate_rate: float, rollouts: int) -> int:
    """Rollouts (stable wrong on 20 % of rows, labels for twice as many stable rows) whose check fails at
    one of 20 looks, as up to 4,000 candidate labels arrive."""
    failures = 0
    for seed in range(rollouts):
        rng = np.random.default_rng(seed)
        cand, stable = rng.random(4000) < candidate_rate, rng.random(8000) < 0.2
        for n in range(200, 4001, 200):
            check = look(labelled(n, int(cand[:n].sum())), labelled(2 * n, int(stable[: 2 * n].sum()))).check(
                "live_quality"
            )
            if check is not None and check.outcome == "fail":
                failures += 1
                break
    return failures


def test_looking_as_labels_arrive_keeps_false_fails_rare() -> None:
    """Both variants wrong on 20 % of rows, within the limit by construction: 200 rollouts, each looked at
    20 times as labels arrive. The check shares alpha = 0.01, so at most a few may fail here."""
    assert failed_rollouts(0.2, 200) <= 2


def test_a_candidate_ten_points_worse_is_caught_within_4000_labels() -> None:
    assert failed_rollouts(0.3, 20) == 20


def test_without_the_limit_the_check_is_absent() -> None:
    result = look(labelled(2000, 600), labelled(4000, 400), AnalysisPolicy(min_requests=200))
    assert result.check("live_quality") is None


# ---------------------------------------------------------------- in a rollout (moto)


def test_a_candidate_wrong_more_often_on_labelled_traffic_is_rolled_back(live_v1: World) -> None:
    def capture(
        endpoint: str, variants: Sequence[str], start: float, end: float
    ) -> tuple[CapturedSample, CapturedSample]:
        assert tuple(variants) == ("v2", "v1")
        return labelled(2000, 600), labelled(4000, 400)

    policy = replace(POLICY_MOTO, max_misclassification_increase=0.02)
    report = live_v1.deploy(2, policy=canary_steps(policy), capture=capture)
    assert report.outcome == "rolled_back", report.to_markdown()
    assert "live_quality: misclassified: candidate 600/2000" in report.message
    assert live_v1.live() == {"v1": 100.0}


def test_a_candidate_as_good_on_labelled_traffic_completes(live_v1: World) -> None:
    def capture(
        endpoint: str, variants: Sequence[str], start: float, end: float
    ) -> tuple[CapturedSample, CapturedSample]:
        return labelled(2000, 200), labelled(4000, 400)

    policy = replace(POLICY_MOTO, max_misclassification_increase=0.02)
    report = live_v1.deploy(2, policy=canary_steps(policy), capture=capture)
    assert report.outcome == "succeeded", report.to_markdown()

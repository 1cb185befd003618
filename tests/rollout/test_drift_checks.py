"""Drift checks in canary and shadow analysis: candidate vs stable on the same window, from data capture,
with a bound that stays valid however often the controller looks."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import ks_2samp

from cd.config.model import AnalysisPolicy
from cd.rollout.analysis import CapturedSample, analyse, ecdf_band
from tests.rollout.conftest import POLICY as POLICY_MOTO
from tests.rollout.conftest import World, canary_steps
from tests.rollout.test_analysis import STABLE, metrics

POLICY = AnalysisPolicy(min_requests=200, max_prediction_ks=0.1, max_input_ks=0.1, alpha=0.01)
RNG = np.random.default_rng(14)


def sample(n: int, score_shift: float = 0.0, charge_shift: float = 0.0, seed: int = 0) -> CapturedSample:
    rng = np.random.default_rng(seed)
    scores = np.clip(rng.beta(2, 5, n) + score_shift, 0, 1)
    return CapturedSample(
        tuple(scores.tolist()),
        {
            "monthly_charges": tuple((rng.uniform(20, 120, n) + charge_shift).tolist()),
            "plan": tuple(rng.integers(0, 3, n).astype(float).tolist()),
        },
    )


def look(candidate: CapturedSample, stable: CapturedSample, policy: AnalysisPolicy = POLICY):  # type: ignore[no-untyped-def]
    return analyse(
        metrics(len(candidate.scores), seed=2), STABLE, (), policy,
        step_index=0, window_start=0.0, window_end=60.0, captured=(candidate, stable),
    )  # fmt: skip


def test_the_band_is_dkw_at_a_level_that_sums_to_alpha_over_every_sample_size() -> None:
    n, alpha = 1000, 0.01
    assert ecdf_band(n, alpha) == pytest.approx(
        math.sqrt(math.log(2 / (alpha * 6 / (math.pi**2 * n * n))) / (2 * n))
    )
    assert sum(alpha * 6 / (math.pi**2 * k * k) for k in range(1, 200_000)) < alpha


@pytest.mark.parametrize(
    ("score_shift", "charge_shift", "failed"),
    [
        (0.0, 0.0, ()),
        (0.3, 0.0, ("prediction_drift",)),  # the candidate answers very differently
        (0.0, 40.0, ("input_drift",)),  # the candidate gets other traffic: the split is broken
        (0.03, 0.0, ()),  # a small shift: under the limit, never a fail
    ],
)
def test_drift_fails_only_when_shown_beyond_the_limit(
    score_shift: float, charge_shift: float, failed: tuple[str, ...]
) -> None:
    result = look(sample(3000, score_shift, charge_shift, seed=1), sample(6000, seed=2))
    assert tuple(c.name for c in result.checks if c.outcome == "fail") == failed
    assert {c.name for c in result.checks} >= {"prediction_drift", "input_drift"}


def test_the_detail_names_the_feature_its_distance_and_bound() -> None:
    cand, stable = sample(3000, charge_shift=40.0, seed=1), sample(6000, seed=2)
    check = look(cand, stable).check("input_drift")
    assert check is not None
    d = ks_2samp(cand.inputs["monthly_charges"], stable.inputs["monthly_charges"]).statistic
    assert check.detail.startswith(
        f"largest KS distance {d:.3f} (monthly_charges) between candidate and stable on 3000 and 6000"
    )


def test_too_little_capture_never_fails_a_candidate() -> None:
    result = look(sample(30, score_shift=0.3, seed=1), sample(30, seed=2))
    assert result.check("prediction_drift").outcome == "pass"


def test_looking_after_every_batch_keeps_false_fails_rare() -> None:
    """Same distribution on both sides, 30 rollouts each looked at 10 times as data grows: the bound is
    built to fail fewer than alpha of such rollouts, so none may fail here."""
    failures = 0
    policy = AnalysisPolicy(min_requests=1, max_prediction_ks=0.02, alpha=0.01)
    for seed in range(30):
        rng = np.random.default_rng(seed)
        cand, stable = rng.beta(2, 5, 5000), rng.beta(2, 5, 5000)
        for n in range(500, 5001, 500):
            result = look(CapturedSample(tuple(cand[:n]), {}), CapturedSample(tuple(stable[:n]), {}), policy)
            if result.check("prediction_drift").outcome == "fail":
                failures += 1
                break
    assert failures == 0


def test_without_capture_the_drift_checks_are_absent() -> None:
    result = analyse(
        metrics(3000, seed=2), STABLE, (), POLICY, step_index=0, window_start=0.0, window_end=60.0
    )
    assert "prediction_drift" not in {c.name for c in result.checks}


# ---------------------------------------------------------------- in a rollout (moto)


def test_a_candidate_that_answers_differently_is_rolled_back_by_the_drift_check(live_v1: World) -> None:
    reads: list[tuple[str, ...]] = []

    def capture(
        endpoint: str, variants: Sequence[str], start: float, end: float
    ) -> tuple[CapturedSample, CapturedSample]:
        reads.append(tuple(variants))
        return sample(2500, score_shift=0.3, seed=3), sample(5000, seed=4)

    policy = replace(POLICY_MOTO, max_prediction_ks=0.1)
    report = live_v1.deploy(2, policy=canary_steps(policy), capture=capture)
    assert report.outcome == "rolled_back", report.to_markdown()
    assert "prediction_drift: largest KS distance" in report.message
    assert reads[0] == ("v2", "v1") and live_v1.live() == {"v1": 100.0}


def test_a_candidate_that_answers_alike_passes_the_drift_check(live_v1: World) -> None:
    def capture(
        endpoint: str, variants: Sequence[str], start: float, end: float
    ) -> tuple[CapturedSample, CapturedSample]:
        return sample(2500, seed=3), sample(5000, seed=4)

    report = live_v1.deploy(
        2, policy=canary_steps(replace(POLICY_MOTO, max_prediction_ks=0.1)), capture=capture
    )
    assert report.outcome == "succeeded", report.to_markdown()

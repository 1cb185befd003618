"""Canary analysis phases from candidate and stable metrics."""

from __future__ import annotations

from dataclasses import replace

from cd.config.model import AnalysisPolicy
from cd.rollout.analysis import analyse, wilson_interval
from cd.rollout.target import VariantMetrics
from tests.rollout.conftest import POLICY

STABLE = VariantMetrics(10_000, 0, 20, 50.0, "Average")  # 0.2 % errors


def phase_of(
    candidate: VariantMetrics,
    stable: VariantMetrics | None = STABLE,
    alarms: tuple[str, ...] = (),
    policy: AnalysisPolicy = POLICY,
) -> str:
    return analyse(candidate, stable, alarms, policy, step_index=0, window_start=0.0, window_end=60.0).phase


def test_enough_requests_within_every_limit_is_successful() -> None:
    assert phase_of(VariantMetrics(1000, 1, 1, 55.0)) == "Successful"


def test_too_few_requests_is_inconclusive_even_without_errors() -> None:
    result = analyse(
        VariantMetrics(199, 0, 0, 50.0), STABLE, (), POLICY, step_index=0, window_start=0, window_end=60
    )
    assert result.phase == "Inconclusive"
    assert result.message == "requests: 199 candidate requests, 200 needed"


def test_no_candidate_requests_is_inconclusive() -> None:
    assert phase_of(VariantMetrics(0, 0, 0, None)) == "Inconclusive"


def test_error_rate_certainly_above_the_limit_fails_before_min_requests() -> None:
    result = analyse(
        VariantMetrics(40, 0, 5, 50.0), STABLE, (), POLICY, step_index=0, window_start=0, window_end=60
    )
    assert result.phase == "Failed"
    check = result.check("error_rate")
    assert check is not None and check.outcome == "fail"
    assert check.detail == "5/40 = 12.50% (99% lower bound 4.71%), limit 1.00%"


def test_error_rate_above_the_limit_but_within_noise_is_inconclusive() -> None:
    # 3 errors in 200 is 1.5 % > 1 %, but the lower bound is below 1 %: hold for more data
    assert phase_of(VariantMetrics(200, 0, 3, 50.0)) == "Inconclusive"


def test_large_error_rate_fails() -> None:
    assert phase_of(VariantMetrics(1000, 0, 50, 50.0)) == "Failed"


def test_error_rate_increase_over_stable_fails() -> None:
    policy = replace(POLICY, max_error_rate=0.5, max_error_rate_increase=0.005)
    assert phase_of(VariantMetrics(5000, 0, 100, 50.0), policy=policy) == "Failed"  # 2 % vs 0.2 %


def test_error_rate_increase_is_skipped_when_stable_served_nothing() -> None:
    result = analyse(
        VariantMetrics(1000, 0, 1, 50.0),
        VariantMetrics(0, 0, 0, None),
        (),
        POLICY,
        step_index=0,
        window_start=0,
        window_end=60,
    )
    assert result.phase == "Successful"
    assert [c.outcome for c in result.checks] == ["pass", "pass", "skipped", "skipped"]


def test_latency_ratio_above_the_limit_fails_with_enough_requests() -> None:
    result = analyse(
        VariantMetrics(1000, 0, 0, 100.0), STABLE, (), POLICY, step_index=0, window_start=0, window_end=60
    )
    assert result.phase == "Failed"
    assert "latency_ratio: Average 100.0 ms / 50.0 ms = 2.00x, limit 1.50x" in result.message


def test_latency_ratio_above_the_limit_with_too_few_requests_is_inconclusive() -> None:
    assert phase_of(VariantMetrics(50, 0, 0, 100.0)) == "Inconclusive"


def test_alarm_in_alarm_fails_regardless_of_traffic() -> None:
    policy = replace(POLICY, alarms=("p99-latency", "errors"))
    result = analyse(
        VariantMetrics(0, 0, 0, None),
        STABLE,
        ("errors",),
        policy,
        step_index=0,
        window_start=0,
        window_end=60,
    )
    assert result.phase == "Failed"
    assert result.message == "alarms: in ALARM: errors"


def test_4xx_count_as_errors() -> None:
    assert phase_of(VariantMetrics(1000, 60, 0, 50.0)) == "Failed"


def test_wilson_interval_matches_known_values() -> None:
    low, high = wilson_interval(5, 40, z=1.6448536269514722)
    assert (round(low, 4), round(high, 4)) == (
        0.0622,
        0.2353,
    )  # by hand: centre 0.1488, half-width 0.0866 at z = 1.645
    low99, _ = wilson_interval(5, 40)  # the default: one-sided 99 %
    assert round(low99, 4) == 0.0471  # by hand: centre 0.1697, half-width 0.1226 at z = 2.326
    assert wilson_interval(0, 0) == (0.0, 1.0)

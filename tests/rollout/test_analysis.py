"""Canary analysis phases from candidate and stable metrics: sequential, and never failed for lack of data."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from cd.config.model import AnalysisPolicy
from cd.rollout.analysis import AnalysisResult, analyse, evidence_line
from cd.rollout.target import VariantMetrics

POLICY = AnalysisPolicy(min_requests=200, latency_statistic="p99")


def latencies(n: int, factor: float = 1.0, seed: int = 0) -> tuple[float, ...]:
    draws = factor * np.random.default_rng(seed).lognormal(np.log(40.0), 0.5, n)
    return tuple(sorted(float(v) for v in draws))


def metrics(n: int, e5: int = 0, e4: int = 0, factor: float = 1.0, seed: int = 0) -> VariantMetrics:
    samples = latencies(n, factor, seed)
    p99 = samples[int(0.99 * n)] if n else None
    return VariantMetrics(float(n), float(e4), float(e5), p99, "p99", latencies_ms=samples)


STABLE = metrics(20_000, e5=100, seed=1)  # 0.5 % server errors


def look(
    candidate: VariantMetrics,
    stable: VariantMetrics | None = STABLE,
    alarms: tuple[str, ...] = (),
    policy: AnalysisPolicy = POLICY,
) -> AnalysisResult:
    return analyse(candidate, stable, alarms, policy, step_index=0, window_start=0.0, window_end=60.0)


def outcome(result: AnalysisResult, check: str) -> str:
    found = result.check(check)
    assert found is not None
    return found.outcome


def test_a_candidate_shown_within_every_limit_is_successful() -> None:
    assert look(metrics(8000, e5=24, seed=2)).phase == "Successful"


def test_too_few_requests_is_inconclusive_even_without_errors() -> None:
    result = look(metrics(150, seed=2))
    assert result.phase == "Inconclusive"
    assert outcome(result, "requests") == "uncertain"


def test_no_candidate_requests_is_inconclusive() -> None:
    assert look(VariantMetrics(0, 0, 0, None, "p99", latencies_ms=())).phase == "Inconclusive"


def test_one_error_in_seven_requests_is_not_a_failure() -> None:
    """The fixed-horizon Wilson bound failed this (99 % lower bound 1.99 % against a 1 % limit)."""
    result = look(metrics(7, e5=1, seed=2))
    assert result.phase == "Inconclusive"
    assert outcome(result, "error_rate") == "uncertain"


def test_many_server_errors_fail_with_the_numbers() -> None:
    result = look(metrics(1000, e5=50, seed=2))
    assert result.phase == "Failed"
    check = result.check("error_rate")
    assert check is not None and check.outcome == "fail"
    assert check.e_harm is not None and check.e_harm >= 1 / (POLICY.alpha / 3)
    assert check.lower is not None and check.lower > POLICY.max_error_rate
    assert "50/1000 = 5.00%" in result.message


def test_an_increase_over_stable_beyond_the_limit_fails() -> None:
    policy = replace(POLICY, max_error_rate=0.05)
    result = look(metrics(3000, e5=90, seed=2), policy=policy)  # 3 % vs stable 0.5 %, limit +0.5 %
    assert outcome(result, "error_rate") != "fail"
    assert outcome(result, "error_rate_increase") == "fail"


def test_client_errors_seen_on_both_variants_neither_fail_nor_hold_the_step() -> None:
    """36 garbage requests used to roll back a healthy candidate: 4xx are the client's."""
    stable = replace(STABLE, errors_4xx=3600.0)
    result = look(metrics(2000, e5=6, e4=36 + 360, seed=2), stable)
    assert outcome(result, "client_error_rate_increase") == "pass"
    assert outcome(result, "error_rate") == "pass"


def test_client_errors_only_the_candidate_gets_fail() -> None:
    result = look(metrics(2000, e5=6, e4=300, seed=2))
    assert result.phase == "Failed"
    assert outcome(result, "client_error_rate_increase") == "fail"


def test_twice_the_latency_fails_on_per_request_latencies() -> None:
    result = look(metrics(3000, e5=5, factor=2.0, seed=2))
    assert outcome(result, "latency_ratio") == "fail"


def test_the_same_latency_passes_once_enough_requests_are_in() -> None:
    assert outcome(look(metrics(8000, e5=20, seed=2)), "latency_ratio") == "pass"
    assert outcome(look(metrics(100, seed=2)), "latency_ratio") == "uncertain"


def _with_minutes(m: VariantMetrics, values: list[float]) -> VariantMetrics:
    return replace(m, latencies_ms=None, latency_minutes=tuple((60.0 * i, v) for i, v in enumerate(values)))


def test_cloudwatch_minutes_fail_a_candidate_slower_in_most_minutes() -> None:
    cand = _with_minutes(metrics(3000, e5=5, seed=2), [250.0] * 12)
    stab = _with_minutes(STABLE, [130.0] * 12)
    assert outcome(look(cand, stab), "latency_ratio") == "fail"


def test_cloudwatch_minutes_pass_a_candidate_as_fast_as_stable() -> None:
    cand = _with_minutes(metrics(8000, e5=20, seed=2), [128.0, 131.0, 125.0, 140.0, 126.0, 129.0])
    stab = _with_minutes(STABLE, [130.0, 127.0, 133.0, 128.0, 131.0, 129.0])
    assert outcome(look(cand, stab), "latency_ratio") == "pass"


def test_latency_with_nothing_to_test_holds_the_step() -> None:
    bare = VariantMetrics(8000, 0, 20, 130.0, "p99")
    result = look(bare, VariantMetrics(20_000, 0, 100, 128.0, "p99"))
    assert outcome(result, "latency_ratio") == "uncertain"
    assert "nothing to test" in result.message


def test_an_alarm_in_alarm_fails_the_analysis() -> None:
    policy = replace(POLICY, alarms=("latency-high",))
    result = look(metrics(8000, e5=20, seed=2), alarms=("latency-high",), policy=policy)
    assert result.phase == "Failed"


def test_the_evidence_line_carries_e_values_bounds_and_requests_needed() -> None:
    line = evidence_line(look(metrics(300, e5=2, seed=2)))
    assert line.startswith("Inconclusive")
    assert "error_rate uncertain" in line and "e=" in line and "cs " in line and "need " in line


def test_a_good_candidate_looked_at_often_is_rarely_failed() -> None:
    """Type I over many looks: 100 simulated rollouts of a candidate as good as stable (0.5 % server
    errors), 20 minutes at 10 requests/s, looked at every 30 s; alpha 0.01 allows at most a few."""
    rng = np.random.default_rng(99)
    stable = replace(STABLE, latencies_ms=None, latency_minutes=((0.0, 50.0),))
    failed = 0
    for _ in range(100):
        errors = rng.random(12_000) < 0.005
        for n in range(300, 12_001, 300):
            cand = VariantMetrics(
                float(n), 0.0, float(errors[:n].sum()), 50.0, "p99", latency_minutes=((0.0, 50.0),)
            )
            if look(cand, stable).phase == "Failed":
                failed += 1
                break
    assert failed <= 3

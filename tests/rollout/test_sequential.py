"""The anytime-valid tests behind canary analysis: closed forms, validity after many looks, power."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from cd.rollout.sequential import (
    BetaPrior,
    e_above,
    e_below,
    log_e_above,
    lower_bound,
    max_count,
    min_count,
    needed_trials,
    quantile_bounds,
    upper_bound,
)

PRIOR = BetaPrior.around(0.01)


def _mixture_by_quadrature(x: int, n: int, p0: float, above: bool) -> float:
    a, b = PRIOR.a, PRIOR.b
    dens = lambda p: p ** (a - 1) * (1 - p) ** (b - 1)  # noqa: E731
    like = lambda p: p**x * (1 - p) ** (n - x) * dens(p)  # noqa: E731
    lo, hi = (p0, 1.0) if above else (0.0, p0)
    num = integrate.quad(like, lo, hi, points=[min(max(x / n, lo), hi)], epsabs=0, epsrel=1e-10, limit=200)[0]
    den = integrate.quad(dens, lo, hi, epsabs=0, epsrel=1e-10)[0]
    return num / den / (p0**x * (1 - p0) ** (n - x))


@pytest.mark.parametrize(("x", "n", "p0"), [(3, 200, 0.01), (0, 50, 0.02), (12, 400, 0.01), (40, 1000, 0.05)])
def test_closed_form_equals_the_mixture_integral(x: int, n: int, p0: float) -> None:
    assert e_above(x, n, p0, PRIOR) == pytest.approx(_mixture_by_quadrature(x, n, p0, True), rel=1e-4)
    assert e_below(x, n, p0, PRIOR) == pytest.approx(_mixture_by_quadrature(x, n, p0, False), rel=1e-4)


def test_evidence_against_a_rate_falls_as_the_rate_tested_rises_to_the_observed_rate() -> None:
    """The increase check tests at a bound it computes, so a lower p0 must never give less evidence."""
    for x, n in [(5, 100), (1, 7), (30, 2000)]:
        grid = np.linspace(0.0005, x / n, 400)
        assert np.all(np.diff(log_e_above(x, n, grid, PRIOR)) <= 1e-9)


def test_no_evidence_of_a_rate_above_one_that_is_above_the_observed_rate() -> None:
    grid = np.linspace(0.016, 0.9, 200)
    assert np.all(log_e_above(30, 2000, grid, PRIOR) <= 0.0)


def test_a_rate_at_the_limit_is_rejected_at_most_alpha_of_the_time_after_a_look_per_request() -> None:
    rng = np.random.default_rng(20261201)
    alpha, runs, n = 0.05, 200, 3000
    threshold = math.log(1 / alpha)
    trials = np.arange(1, n + 1)
    rejected = 0
    for _ in range(runs):
        errors = np.cumsum(rng.random(n) < 0.01)
        rejected += bool(np.any(log_e_above(errors, trials, 0.01, PRIOR) >= threshold))
    assert rejected / runs <= alpha


def test_a_fixed_horizon_interval_checked_at_every_look_is_not_valid() -> None:
    """The reason for all this: a one-sided 95 % normal bound looked at per request rejects far more."""
    rng = np.random.default_rng(7)
    runs, n = 200, 3000
    trials = np.arange(1, n + 1)
    rejected = 0
    for _ in range(runs):
        errors = np.cumsum(rng.random(n) < 0.01)
        rate = errors / trials
        lower = rate - 1.645 * np.sqrt(rate * (1 - rate) / trials)
        rejected += bool(np.any((lower > 0.01) & (trials >= 30)))
    assert rejected / runs > 2 * 0.05


def test_five_percent_errors_against_a_one_percent_limit_is_shown_within_a_few_hundred_requests() -> None:
    rng = np.random.default_rng(3)
    threshold = math.log(300)
    trials = np.arange(1, 1001)
    stops = []
    for _ in range(200):
        errors = np.cumsum(rng.random(1000) < 0.05)
        crossed = np.nonzero(log_e_above(errors, trials, 0.01, PRIOR) >= threshold)[0]
        stops.append(crossed[0] + 1 if crossed.size else 10_000)
    assert np.median(stops) < 250
    assert np.mean(np.array(stops) <= 1000) >= 0.95


def test_confidence_sequence_bounds_cover_the_rate_at_every_look() -> None:
    rng = np.random.default_rng(11)
    alpha, misses = 0.1, 0
    for _ in range(100):
        outcomes = rng.random(2000) < 0.02
        errors = np.cumsum(outcomes)
        for n in range(50, 2001, 50):
            x = float(errors[n - 1])
            if not (lower_bound(x, n, alpha / 2, PRIOR) <= 0.02 <= upper_bound(x, n, alpha / 2, PRIOR)):
                misses += 1
                break
    assert misses / 100 <= alpha


def test_bounds_contain_the_estimate_and_narrow_with_data() -> None:
    assert lower_bound(10, 100, 0.01, PRIOR) < 0.1 < upper_bound(10, 100, 0.01, PRIOR)
    wide = upper_bound(10, 100, 0.01, PRIOR) - lower_bound(10, 100, 0.01, PRIOR)
    narrow = upper_bound(100, 1000, 0.01, PRIOR) - lower_bound(100, 1000, 0.01, PRIOR)
    assert narrow < wide / 2


def test_one_error_in_seven_requests_does_not_show_a_rate_above_one_percent() -> None:
    assert lower_bound(1, 7, 0.01 / 3, PRIOR) < 0.01


def test_count_bounds_bracket_the_expected_count() -> None:
    hi, lo = max_count(1000, 0.01, 0.01, PRIOR), min_count(1000, 0.01, 0.01, PRIOR)
    assert lo < 10 < hi
    assert (
        float(log_e_above(hi, 1000, 0.01, PRIOR))
        < math.log(100)
        <= float(log_e_above(hi + 1, 1000, 0.01, PRIOR))
    )


def test_quantile_bounds_cover_the_true_p99_at_every_look() -> None:
    rng = np.random.default_rng(5)
    true_p99 = 40.0 * math.exp(0.5 * 2.3263478740408408)
    misses = 0
    for _ in range(60):
        draws = rng.lognormal(math.log(40.0), 0.5, 4000)
        for n in range(500, 4001, 500):
            bounds = quantile_bounds(sorted(draws[:n]), 0.99, 0.05, 0.05)
            if (bounds.lower is not None and bounds.lower > true_p99) or (
                bounds.upper is not None and bounds.upper < true_p99
            ):
                misses += 1
                break
    assert misses / 60 <= 0.1


def test_quantile_bounds_need_enough_observations() -> None:
    assert quantile_bounds([], 0.99, 0.05, 0.05).lower is None
    assert quantile_bounds([1.0] * 20, 0.99, 0.05, 0.05).upper is None


def test_needed_trials_is_where_the_test_would_decide_at_the_observed_rate() -> None:
    n = needed_trials(0.05, 0.01, 0.01, PRIOR, above=True)
    assert n is not None
    assert float(log_e_above(0.05 * n, n, 0.01, PRIOR)) >= math.log(100)
    assert float(log_e_above(0.05 * (n - 1), n - 1, 0.01, PRIOR)) < math.log(100)
    assert needed_trials(0.005, 0.01, 0.01, PRIOR, above=True) is None

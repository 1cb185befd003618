"""Anytime-valid tests for canary analysis: e-processes and confidence sequences. Pure.

A canary is looked at again and again (every second on the local router, every CloudWatch minute on
SageMaker). A fixed-horizon interval checked at every look rejects a good candidate far more often than
its level says. The tests here stay valid however many looks are taken and whenever the rollout stops
(Ville's inequality: a nonnegative supermartingale starting at 1 exceeds 1/alpha with probability at
most alpha, ever).

Bernoulli streams (a request errs or not; a latency exceeds a quantile or not) are tested with the
beta-mixture likelihood ratio (Robbins 1970; Howard, Ramdas, McAuliffe, Sekhon 2021, section 3), with
the mixing distribution truncated to the alternative so the test is valid for a composite null:

    E_n = integral over p' of prod_i (p'/p0)^x_i ((1-p')/(1-p0))^(1-x_i) dPrior(p' | p' > p0)

is a test supermartingale under every p <= p0 (each factor has expectation <= 1 there, by monotone
likelihood ratio). In closed form, with x errors in n trials and a Beta(a, b) prior,

    E_n = B(a+x, b+n-x) * (1 - I_p0(a+x, b+n-x)) / (B(a, b) * (1 - I_p0(a, b))) / (p0^x (1-p0)^(n-x))

(I the regularised incomplete beta). Inverting the test over p0 gives one-sided confidence sequences.

Quantiles (Howard & Ramdas 2022, "Sequential estimation of quantiles"): the number of observations
above the q-quantile is a Bernoulli(1 - q) stream whatever the distribution, so a confidence sequence
for that count bounds the quantile between two order statistics, at every n at once.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import brentq
from scipy.special import betainc, betaincc, betaln

_TINY = 1e-300


@dataclass(frozen=True)
class BetaPrior:
    """The mixing distribution of the e-process; truncated to the alternative when used."""

    a: float
    b: float

    @classmethod
    def around(cls, rate: float) -> BetaPrior:
        """A prior with mean `rate` and one pseudo-event: weight where a canary's error rates live."""
        rate = min(max(rate, 1e-6), 0.5)
        return cls(1.0, 1.0 / rate - 1.0)


UNIFORM = BetaPrior(1.0, 1.0)


def _log_tail(a: ArrayLike, b: ArrayLike, p0: ArrayLike, upper: bool) -> np.ndarray:
    tail = betaincc(a, b, p0) if upper else betainc(a, b, p0)
    return np.asarray(np.log(np.maximum(tail, _TINY)))


def _log_e_vector(x: ArrayLike, n: ArrayLike, p0: ArrayLike, prior: BetaPrior, above: bool) -> np.ndarray:
    """log E_n, vectorised; `above`: against H0 p <= p0, else against H0 p >= p0."""
    x, n = np.asarray(x, dtype=float), np.asarray(n, dtype=float)
    p0 = np.clip(np.asarray(p0, dtype=float), 1e-12, 1 - 1e-12).astype(float)
    a, b = prior.a, prior.b
    num = betaln(a + x, b + n - x) + _log_tail(a + x, b + n - x, p0, upper=above)
    den = betaln(a, b) + _log_tail(a, b, p0, upper=above)
    value = num - den - (x * np.log(p0) + (n - x) * np.log1p(np.negative(p0)))
    # On the far side of the observed rate every alternative is less likely than p0: E <= 1. Where the
    # tail underflows the closed form cannot show it, so say it.
    beyond = p0 * n >= x if above else p0 * n <= x
    return np.asarray(np.where(beyond, np.minimum(value, 0.0), value))


def log_e_above(x: ArrayLike, n: ArrayLike, p0: ArrayLike, prior: BetaPrior) -> np.ndarray:
    """log E_n against H0: p <= p0 (evidence that the rate is above p0). Vectorised."""
    return _log_e_vector(x, n, p0, prior, above=True)


def log_e_below(x: ArrayLike, n: ArrayLike, p0: ArrayLike, prior: BetaPrior) -> np.ndarray:
    """log E_n against H0: p >= p0 (evidence that the rate is below p0). Vectorised."""
    return _log_e_vector(x, n, p0, prior, above=False)


def e_above(x: float, n: float, p0: float, prior: BetaPrior) -> float:
    """E_n against H0: p <= p0, as a number (capped where it would overflow)."""
    return math.exp(min(700.0, _log_e(x, n, p0, prior, True)))


def e_below(x: float, n: float, p0: float, prior: BetaPrior) -> float:
    """E_n against H0: p >= p0, as a number (capped where it would overflow)."""
    return math.exp(min(700.0, _log_e(x, n, p0, prior, False)))


def _log_e(x: float, n: float, p0: float, prior: BetaPrior, above: bool) -> float:
    """`log_e_above` / `log_e_below` for one p0, in scalars (the root finders call it often)."""
    p0 = min(max(p0, 1e-12), 1 - 1e-12)
    a, b = prior.a, prior.b
    tail = betaincc if above else betainc
    num = float(betaln(a + x, b + n - x)) + math.log(max(float(tail(a + x, b + n - x, p0)), _TINY))
    den = float(betaln(a, b)) + math.log(max(float(tail(a, b, p0)), _TINY))
    value = num - den - (x * math.log(p0) + (n - x) * math.log1p(-p0))
    beyond = p0 * n >= x if above else p0 * n <= x
    return min(value, 0.0) if beyond else value


def _root(fn: Callable[[float], float], lo: float, hi: float) -> float:
    return float(brentq(fn, lo, hi, xtol=1e-7, rtol=1e-6))


@functools.lru_cache(maxsize=4096)
def lower_bound(x: float, n: float, alpha: float, prior: BetaPrior) -> float:
    """A one-sided (1 - alpha) confidence sequence's lower bound for a Bernoulli rate: every p0 below
    it is rejected by `log_e_above` at level alpha. 0.0 when nothing is rejected."""
    if n <= 0 or x <= 0:
        return 0.0
    threshold = math.log(1 / alpha)
    lo, hi = 1e-9, x / n
    if _log_e(x, n, lo, prior, True) < threshold:
        return 0.0
    return _root(lambda p: _log_e(x, n, p, prior, True) - threshold, lo, hi)


@functools.lru_cache(maxsize=4096)
def upper_bound(x: float, n: float, alpha: float, prior: BetaPrior) -> float:
    """A one-sided (1 - alpha) confidence sequence's upper bound for a Bernoulli rate: every p0 above
    it is rejected by `log_e_below` at level alpha. 1.0 when nothing is rejected."""
    if n <= 0:
        return 1.0
    threshold = math.log(1 / alpha)
    lo, hi = x / n, 1 - 1e-9
    if _log_e(x, n, hi, prior, False) < threshold:
        return 1.0
    return _root(lambda p: _log_e(x, n, p, prior, False) - threshold, lo, hi)


def _count_window(n: int, p: float) -> np.ndarray:
    """Counts near n*p, where a confidence sequence for a Binomial(n, p) count has its edges."""
    spread = 12.0 * math.sqrt(n * p * (1 - p)) + 40.0
    return np.arange(max(0, math.floor(n * p - spread)), min(n, math.ceil(n * p + spread)) + 1)


@functools.lru_cache(maxsize=4096)
def max_count(n: int, p: float, alpha: float, prior: BetaPrior) -> int:
    """The largest count of successes in n Bernoulli(p) trials that the test against H0: rate <= p
    does not reject at level alpha: with probability >= 1 - alpha the count stays at or below this at
    every n."""
    threshold = math.log(1 / alpha)
    counts = _count_window(n, p)
    counts = counts[counts >= math.floor(n * p)]  # at or below n*p is never evidence of more
    rejected = log_e_above(counts.astype(float), n, p, prior) >= threshold
    if rejected.any():
        return int(counts[int(np.argmax(rejected))]) - 1
    return n if counts[-1] >= n else _bisect_count(n, p, threshold, prior, int(counts[-1]), n, above=True)


@functools.lru_cache(maxsize=4096)
def min_count(n: int, p: float, alpha: float, prior: BetaPrior) -> int:
    """The smallest count of successes in n Bernoulli(p) trials that the test against H0: rate >= p
    does not reject at level alpha."""
    threshold = math.log(1 / alpha)
    counts = _count_window(n, p)
    counts = counts[counts <= math.ceil(n * p)]
    rejected = log_e_below(counts.astype(float), n, p, prior) >= threshold
    if not rejected.any():
        return 0 if counts[0] == 0 else _bisect_count(n, p, threshold, prior, 0, int(counts[0]), above=False)
    return int(counts[len(rejected) - 1 - int(np.argmax(rejected[::-1]))]) + 1


def _bisect_count(
    n: int, p: float, threshold: float, prior: BetaPrior, lo: int, hi: int, *, above: bool
) -> int:
    """Outside the window (extreme alpha): bisect for the edge between lo and hi."""
    test = log_e_above if above else log_e_below
    while hi - lo > 1:
        mid = (lo + hi) // 2
        rejected = float(test(mid, n, p, prior)) >= threshold
        if rejected == above:
            hi = mid
        else:
            lo = mid
    return lo if above else hi


@dataclass(frozen=True)
class QuantileBounds:
    lower: float | None  # None: not enough observations to bound the quantile from below
    upper: float | None  # None: not enough observations to bound it from above


def quantile_bounds(
    ordered: Sequence[float], q: float, alpha_lower: float, alpha_upper: float
) -> QuantileBounds:
    """Confidence-sequence bounds for the q-quantile from ascending observations.

    The count of observations above the q-quantile is Binomial(n, 1 - q) for any continuous
    distribution. If at most `k_hi` exceed it, the (n - k_hi)-th smallest is at or below it (lower
    bound); if at least `k_lo` exceed it, the (n - k_lo + 1)-th smallest is above it (upper bound).
    """
    n = len(ordered)
    if n == 0:
        return QuantileBounds(None, None)
    tail = 1.0 - q
    prior = BetaPrior.around(tail)
    k_hi = max_count(n, tail, alpha_lower, prior)
    k_lo = min_count(n, tail, alpha_upper, prior)
    lower = float(ordered[n - k_hi - 1]) if n - k_hi >= 1 else None
    upper = float(ordered[n - k_lo]) if k_lo >= 1 else None
    return QuantileBounds(lower, upper)


def needed_trials(rate: float, limit: float, alpha: float, prior: BetaPrior, *, above: bool) -> int | None:
    """How many trials at the observed `rate` the test needs before it rejects (`above`: the rate is
    shown above `limit`; else below it). None when the rate is on the wrong side of the limit, or
    beyond a million trials."""
    if (above and rate <= limit) or (not above and rate >= limit):
        return None
    test = log_e_above if above else log_e_below
    threshold = math.log(1 / alpha)
    n = 1
    while n <= 1_000_000:
        if float(test(rate * n, n, limit, prior)) >= threshold:
            break
        n *= 2
    else:
        return None
    lo, hi = n // 2, n
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if float(test(rate * mid, mid, limit, prior)) >= threshold:
            hi = mid
        else:
            lo = mid
    return hi

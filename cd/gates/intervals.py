"""Confidence intervals and one-sided p-values from the paired bootstrap. Pure numpy and scipy.

**BCa intervals** (Efron 1987; Efron & Tibshirani 1993, ch. 14). The percentile interval under-covers
for skewed or biased statistics (AUC near 1, a recall on few positives, log loss). BCa corrects it with
two numbers per statistic:

- the bias correction `z0 = Φ⁻¹(share of resamples below the point value)` (ties count half);
- the acceleration `a = Σ d³ / (6 (Σ d²)^1.5)`, `d = mean(θ₍g₎) − θ₍g₎`, from a **grouped jackknife**:
  the rows are dealt into G groups (row i into group i mod G) and the statistic is recomputed G times,
  once without each group. Every kernel evaluates a jackknife as counts (0 for the left-out group, 1
  elsewhere), exactly like a bootstrap resample, so a statistic over 1M rows costs G more evaluations,
  not a million. Each group's influence is the sum of n/G rows' influences, so the ratio above has the
  expectation of the delete-one jackknife's, `skewness(influence) / (6 √n)`.

The interval's ends are the resamples' quantiles at `Φ(z0 + (z0 + z_α) / (1 − a (z0 + z_α)))` for
α = (1 − confidence)/2 and 1 − α. With z0 = a = 0 this is the percentile interval.

The p-values the gate corrects for multiplicity are `cd.gates.thresholds.p_value`, from the same
resamples' standard error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from cd.config.model import IntervalMethod
from cd.gates.metrics import Counts, FloatArray

JACKKNIFE_GROUPS = 20


def jackknife_counts(n_rows: int, groups: int = JACKKNIFE_GROUPS) -> Counts:
    """(G, n_rows) counts, resample-minor like the bootstrap's: row i left out of jackknife i mod G."""
    groups = max(1, min(groups, n_rows))
    out = np.ones((n_rows, groups), np.uint8).T
    rows = np.arange(n_rows)
    out[rows % groups, rows] = 0
    return out


def acceleration(jackknife: FloatArray) -> float:
    """BCa's acceleration from jackknife values (NaN ones left out); 0 when it cannot be estimated."""
    values = jackknife[~np.isnan(jackknife)]
    if values.size < 3:
        return 0.0
    d = values.mean() - values
    spread = float(np.sum(d * d))
    if spread <= 0.0:
        return 0.0
    return float(np.sum(d**3) / (6.0 * spread**1.5))


def bias_correction(samples: FloatArray, point: float) -> float:
    """BCa's z0; 0 when the share is 0 or 1 (an interval is then the percentile one)."""
    if samples.size == 0:
        return 0.0
    share = (np.count_nonzero(samples < point) + 0.5 * np.count_nonzero(samples == point)) / samples.size
    if share <= 0.0 or share >= 1.0:
        return 0.0
    return float(norm.ppf(share))


def _adjusted_level(level: float, z0: float, accel: float) -> float:
    z = z0 + norm.ppf(level)
    denominator = 1.0 - accel * z
    if denominator <= 0.0:  # an acceleration this large sends the end to the extreme resample
        return 1.0 if level > 0.5 else 0.0
    return float(norm.cdf(z0 + z / denominator))


@dataclass(frozen=True)
class Bootstrapped:
    """A statistic's point value, its defined resamples and its BCa corrections."""

    point: float
    samples: FloatArray  # defined resamples only
    accel: float = 0.0
    undefined: int = 0  # resamples on which the statistic was undefined (left out)

    @property
    def se(self) -> float:
        return float(np.std(self.samples, ddof=1)) if self.samples.size > 1 else math.nan

    def interval(self, confidence: float, method: IntervalMethod = "bca") -> tuple[float, float]:
        """The two-sided interval at `confidence`; NaN ends when no resample defines the statistic."""
        if self.samples.size == 0 or math.isnan(self.point):
            return math.nan, math.nan
        tail = (1.0 - confidence) / 2.0
        levels = (tail, 1.0 - tail)
        if method == "bca":
            z0 = bias_correction(self.samples, self.point)
            levels = (_adjusted_level(tail, z0, self.accel), _adjusted_level(1.0 - tail, z0, self.accel))
        low, high = np.quantile(self.samples, levels)
        return float(low), float(high)


def bootstrapped(point: float, samples: FloatArray | None, jackknife: FloatArray | None) -> Bootstrapped:
    """From a statistic's resamples (NaN where undefined) and jackknife values."""
    if samples is None:
        return Bootstrapped(float(point), np.empty(0))
    defined = samples[~np.isnan(samples)]
    accel = acceleration(jackknife) if jackknife is not None else 0.0
    return Bootstrapped(float(point), defined, accel, int(samples.size - defined.size))

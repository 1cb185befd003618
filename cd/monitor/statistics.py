"""Two-sample drift statistics: live values against a reference, per feature. Pure NumPy and SciPy.

- numeric: the two-sample Kolmogorov-Smirnov test (statistic and p-value equal to
  `scipy.stats.ks_2samp(reference, live)`), with the population stability index (PSI) over the
  reference's deciles as the effect size;
- categorical: Pearson's chi-squared test of the 2 x k table of counts (equal to
  `scipy.stats.chi2_contingency`), with the Jensen-Shannon distance (base 2, in [0, 1]) as the effect size.

With a million live rows every shift is significant, so a feature is called drifted only when it is both
significant and large: p below the (Bonferroni-corrected) level and the effect size over its threshold.
Fewer live rows than the policy's minimum is "not enough data": neither drift nor no drift.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from cd.config.model import DriftPolicy

Kind = Literal["numeric", "categorical"]
Outcome = Literal["drift", "shift", "stable", "not_enough_data"]
PSI_BINS = 10
PSI_FLOOR = 1e-4  # proportions below this count as this (an empty bin would make PSI infinite)
SCIPY_EXACT_MAX_N = 10_000  # ks_2samp's method='auto' computes the exact p-value up to this size


@dataclass(frozen=True)
class Histogram:
    """Shares of the reference and of the live rows per bin (numeric) or category, for charts."""

    labels: tuple[str, ...]
    reference: tuple[float, ...]
    live: tuple[float, ...]


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    kind: Kind
    test: Literal["ks", "chi2"]
    statistic: float
    p_value: float
    effect: Literal["psi", "js"]
    effect_size: float
    reference_rows: int
    live_rows: int
    outcome: Outcome
    histogram: Histogram

    @property
    def drifted(self) -> bool:
        return self.outcome == "drift"

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "kind": self.kind,
            "test": self.test,
            "statistic": _finite(self.statistic),
            "p_value": _finite(self.p_value),
            "effect": self.effect,
            "effect_size": _finite(self.effect_size),
            "reference_rows": self.reference_rows,
            "live_rows": self.live_rows,
            "outcome": self.outcome,
            "histogram": {
                "labels": list(self.histogram.labels),
                "reference": [round(x, 6) for x in self.histogram.reference],
                "live": [round(x, 6) for x in self.histogram.live],
            },
        }


def _finite(x: float) -> float | None:
    return None if math.isnan(x) else x


# ---------------------------------------------------------------- Kolmogorov-Smirnov


def ks_statistic(reference_sorted: NDArray[np.float64], live_sorted: NDArray[np.float64]) -> float:
    """The two-sided KS statistic of two ascending samples, equal to `ks_2samp`'s (ties included): the
    largest gap between the empirical CDFs. Both extremes are found at the smaller sample's distinct
    values, so it costs a search of those in the larger sample, not of every value in both:
    - F_small - F_large peaks at a distinct value u_j of the small sample (F_small jumps there);
    - F_large - F_small peaks just below the next one, u_{j+1}, where F_large has counted every value
      below u_{j+1} and F_small is still at F_small(u_j).
    The counts divided are those `ks_2samp` divides at the same points, so the result is the same float."""
    small, large = sorted((reference_sorted, live_sorted), key=len)
    n_small, n_large = len(small), len(large)
    last = np.flatnonzero(np.diff(small, append=np.inf))  # the last position of each distinct value
    distinct = small[last]
    at = (last + 1) / n_small  # F_small at each distinct value
    below = np.concatenate([[0.0], at[:-1]])  # F_small just below it
    up_to = np.searchsorted(large, distinct, side="right") / n_large
    before = np.searchsorted(large, distinct, side="left") / n_large
    small_ahead = float((at - up_to).max())
    large_ahead = float((before - below).max())
    return max(small_ahead, large_ahead, 0.0)


def ks_test(reference_sorted: NDArray[np.float64], live_sorted: NDArray[np.float64]) -> tuple[float, float]:
    """(statistic, p-value) equal to `scipy.stats.ks_2samp(reference, live)` (method 'auto')."""
    from scipy import stats

    n1, n2 = len(reference_sorted), len(live_sorted)
    if max(n1, n2) <= SCIPY_EXACT_MAX_N:  # scipy computes the exact distribution here: let it
        result = stats.ks_2samp(reference_sorted, live_sorted)
        return float(result.statistic), float(result.pvalue)
    d = ks_statistic(reference_sorted, live_sorted)
    m, n = sorted([float(n1), float(n2)], reverse=True)
    return d, float(stats.kstwo.sf(d, np.round(m * n / (m + n))))


def psi(
    reference_sorted: NDArray[np.float64], live_sorted: NDArray[np.float64], bins: int = PSI_BINS
) -> tuple[float, Histogram]:
    """Population stability index over the reference's quantile bins, and the shares per bin."""
    qs = np.linspace(0, 1, bins + 1)[1:-1]
    edges = np.unique(np.quantile(reference_sorted, qs))
    ref_counts = np.diff(np.searchsorted(reference_sorted, edges, side="right"), prepend=0, append=0)
    ref_counts[-1] = len(reference_sorted) - ref_counts[:-1].sum()
    live_counts = np.diff(np.searchsorted(live_sorted, edges, side="right"), prepend=0, append=0)
    live_counts[-1] = len(live_sorted) - live_counts[:-1].sum()
    p = ref_counts / len(reference_sorted)
    q = live_counts / len(live_sorted)
    value = float(
        np.sum(
            (np.maximum(q, PSI_FLOOR) - np.maximum(p, PSI_FLOOR))
            * np.log(np.maximum(q, PSI_FLOOR) / np.maximum(p, PSI_FLOOR))
        )
    )
    labels = _bin_labels(edges)
    return value, Histogram(labels, tuple(float(x) for x in p), tuple(float(x) for x in q))


def _bin_labels(edges: NDArray[np.float64]) -> tuple[str, ...]:
    if len(edges) == 0:
        return ("all",)
    text = [f"{e:.4g}" for e in edges]
    return (f"≤{text[0]}", *(f"{a}–{b}" for a, b in itertools.pairwise(text)), f">{text[-1]}")


# ---------------------------------------------------------------- chi-squared


def category_counts(
    reference: Any, live: Any
) -> tuple[tuple[str, ...], NDArray[np.int64], NDArray[np.int64]]:
    """The categories seen in either sample (as text, sorted) and the counts of each. Pandas counts them:
    a categorical column (how the capture reader hands strings over) is counted by its codes."""
    import pandas as pd

    def counts(values: Any) -> dict[str, int]:
        found = pd.Series(values).value_counts(sort=False)
        return {str(k): int(v) for k, v in found.items() if v > 0}

    ref, cur = counts(reference), counts(live)
    categories = tuple(sorted(set(ref) | set(cur)))
    return (
        categories,
        np.array([ref.get(c, 0) for c in categories], np.int64),
        np.array([cur.get(c, 0) for c in categories], np.int64),
    )


def chi2_test(ref_counts: NDArray[np.int64], live_counts: NDArray[np.int64]) -> tuple[float, float]:
    """(statistic, p-value) equal to `scipy.stats.chi2_contingency([ref_counts, live_counts])`."""
    from scipy import stats

    if len(ref_counts) < 2:
        return 0.0, 1.0  # one category: nothing can have moved
    result = stats.chi2_contingency(np.vstack([ref_counts, live_counts]))
    return float(result.statistic), float(result.pvalue)


def js_distance(ref_counts: NDArray[np.int64], live_counts: NDArray[np.int64]) -> float:
    """Jensen-Shannon distance (base 2) between the two category distributions."""
    from scipy.spatial.distance import jensenshannon

    return float(jensenshannon(ref_counts / ref_counts.sum(), live_counts / live_counts.sum(), base=2))


# ---------------------------------------------------------------- per feature


def _outcome(p_value: float, effect: float, limit: float, level: float) -> Outcome:
    if p_value < level and effect > limit:
        return "drift"
    if p_value < level:
        return "shift"  # significant but small: reported, not flagged
    return "stable"


def sorted_values(values: Any) -> NDArray[np.float64]:
    """Ascending float64."""
    return np.sort(np.asarray(values).astype(np.float64))


def numeric_drift(
    feature: str,
    reference: NDArray[Any],
    live: NDArray[Any],
    policy: DriftPolicy,
    level: float,
    reference_sorted: NDArray[np.float64] | None = None,
) -> FeatureDrift:
    ref = reference_sorted if reference_sorted is not None else np.sort(np.asarray(reference, np.float64))
    cur = sorted_values(live)
    if len(cur) < policy.min_rows or len(ref) == 0:
        return _not_enough(feature, "numeric", len(ref), len(cur))
    statistic, p_value = ks_test(ref, cur)
    effect, histogram = psi(ref, cur)
    return FeatureDrift(
        feature,
        "numeric",
        "ks",
        statistic,
        p_value,
        "psi",
        effect,
        len(ref),
        len(cur),
        _outcome(p_value, effect, policy.max_psi, level),
        histogram,
    )


def categorical_drift(
    feature: str, reference: NDArray[Any], live: NDArray[Any], policy: DriftPolicy, level: float
) -> FeatureDrift:
    if len(live) < policy.min_rows or len(reference) == 0:
        return _not_enough(feature, "categorical", len(reference), len(live))
    categories, ref_counts, live_counts = category_counts(reference, live)
    statistic, p_value = chi2_test(ref_counts, live_counts)
    effect = js_distance(ref_counts, live_counts)
    histogram = Histogram(
        categories,
        tuple(float(x) for x in ref_counts / ref_counts.sum()),
        tuple(float(x) for x in live_counts / live_counts.sum()),
    )
    return FeatureDrift(
        feature,
        "categorical",
        "chi2",
        statistic,
        p_value,
        "js",
        effect,
        len(reference),
        len(live),
        _outcome(p_value, effect, policy.max_js, level),
        histogram,
    )


def _not_enough(feature: str, kind: Kind, ref_rows: int, live_rows: int) -> FeatureDrift:
    test: Literal["ks", "chi2"] = "ks" if kind == "numeric" else "chi2"
    effect: Literal["psi", "js"] = "psi" if kind == "numeric" else "js"
    return FeatureDrift(
        feature,
        kind,
        test,
        math.nan,
        math.nan,
        effect,
        math.nan,
        ref_rows,
        live_rows,
        "not_enough_data",
        Histogram((), (), ()),
    )


def corrected_level(policy: DriftPolicy, tests: int) -> float:
    """The per-test level: Bonferroni over the features (and prediction) tested together."""
    return policy.alpha / max(1, tests)


def summarise(features: Sequence[FeatureDrift]) -> Outcome:
    """drift if any feature drifted; not enough data if nothing could be judged; else stable."""
    if any(f.drifted for f in features):
        return "drift"
    if features and all(f.outcome == "not_enough_data" for f in features):
        return "not_enough_data"
    return "stable"

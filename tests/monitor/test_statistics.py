"""The drift statistics equal scipy's on the same data; effect sizes equal their formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from cd.config.model import DriftPolicy
from cd.monitor.statistics import (
    categorical_drift,
    category_counts,
    chi2_test,
    js_distance,
    ks_statistic,
    ks_test,
    numeric_drift,
    psi,
    summarise,
)

RNG = np.random.default_rng(20261201)


@pytest.mark.parametrize(
    ("n_ref", "n_live", "shift", "integer"),
    [
        (200, 150, 0.0, False),  # scipy's exact p-value
        (5_000, 9_000, 0.05, False),
        (8_000, 12_000, 0.02, False),  # past scipy's exact limit: the asymptotic one
        (100_000, 300_000, 0.01, False),
        (20_000, 30_000, 0.0, True),  # ties everywhere
        (300, 20_000, 0.3, True),
    ],
)
def test_ks_equals_scipy_ks_2samp(n_ref: int, n_live: int, shift: float, integer: bool) -> None:
    ref = RNG.normal(size=n_ref)
    live = RNG.normal(loc=shift, size=n_live)
    if integer:
        ref, live = np.round(ref * 3), np.round(live * 3)
    expected = stats.ks_2samp(ref, live)
    statistic, p_value = ks_test(np.sort(ref), np.sort(live))
    assert statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("seed", range(4))
def test_ks_statistic_is_bit_for_bit_scipys_whichever_sample_is_smaller(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for trial in range(250):
        n1, n2 = rng.integers(1, 400, 2)
        if trial % 2:  # few distinct values: ties within and across the samples
            a, b = rng.integers(0, 12, n1).astype(float), rng.integers(0, 12, n2) + 0.5 * (trial % 3 == 0)
        else:
            a, b = rng.normal(size=n1), rng.normal(rng.normal(), 1, n2)
        a, b = np.sort(a), np.sort(b.astype(float))
        assert ks_statistic(a, b) == stats.ks_2samp(a, b, method="asymp").statistic


@pytest.mark.parametrize(
    ("ref_counts", "live_counts"),
    [
        ([500, 300, 200], [480, 330, 190]),
        ([500, 500], [400, 600]),  # 2 x 2: scipy applies Yates' correction
        ([1000, 10, 0, 5], [900, 40, 7, 5]),  # a category only live traffic has
    ],
)
def test_chi2_equals_scipy_chi2_contingency(ref_counts: list[int], live_counts: list[int]) -> None:
    ref_values = np.repeat(np.arange(len(ref_counts)), ref_counts).astype(str)
    live_values = np.repeat(np.arange(len(live_counts)), live_counts).astype(str)
    _, ref_n, live_n = category_counts(ref_values, live_values)
    table = np.array([ref_counts, live_counts])
    table = table[:, table.sum(axis=0) > 0]
    expected = stats.chi2_contingency(table)
    statistic, p_value = chi2_test(ref_n, live_n)
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_js_distance_equals_scipy_and_its_formula() -> None:
    p, q = np.array([50, 30, 20]), np.array([20, 30, 50])
    pn, qn = p / p.sum(), q / q.sum()
    m = (pn + qn) / 2
    by_hand = math.sqrt((np.sum(pn * np.log2(pn / m)) + np.sum(qn * np.log2(qn / m))) / 2)
    assert js_distance(p, q) == pytest.approx(jensenshannon(pn, qn, base=2)) == pytest.approx(by_hand)


def test_psi_sums_over_the_reference_deciles() -> None:
    ref = np.sort(RNG.uniform(0, 1, 10_000))
    live = np.sort(RNG.uniform(0.1, 1.1, 10_000))
    value, histogram = psi(ref, live)
    edges = np.quantile(ref, np.linspace(0, 1, 11)[1:-1])
    p = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=10) / len(ref)
    q = np.bincount(np.searchsorted(edges, live, side="left"), minlength=10) / len(live)
    p, q = np.maximum(p, 1e-4), np.maximum(q, 1e-4)
    assert value == pytest.approx(float(np.sum((q - p) * np.log(q / p))), rel=1e-9)
    assert len(histogram.labels) == 10 and sum(histogram.live) == pytest.approx(1.0)


def test_psi_of_a_sample_against_itself_is_zero() -> None:
    ref = np.sort(RNG.normal(size=5000))
    assert psi(ref, ref)[0] == pytest.approx(0.0, abs=1e-12)


POLICY = DriftPolicy(min_rows=100, alpha=0.01, max_psi=0.2, max_js=0.1)


@pytest.mark.parametrize(
    ("shift", "live_rows", "outcome"),
    [
        (0.0, 20_000, "stable"),
        (0.08, 200_000, "shift"),  # significant with this many rows, yet small: not flagged
        (1.0, 2_000, "drift"),
        (1.0, 50, "not_enough_data"),  # under min_rows: neither drift nor stable
    ],
)
def test_numeric_outcome_needs_both_significance_and_size(shift: float, live_rows: int, outcome: str) -> None:
    ref = RNG.normal(size=20_000)
    live = RNG.normal(loc=shift, size=live_rows)
    assert numeric_drift("x", ref, live, POLICY, POLICY.alpha).outcome == outcome


def test_categorical_outcome_flags_a_moved_mix() -> None:
    ref = np.array(["basic"] * 600 + ["premium"] * 400)
    moved = np.array(["basic"] * 200 + ["premium"] * 800)
    same = np.array(["basic"] * 590 + ["premium"] * 410)
    assert categorical_drift("plan", ref, moved, POLICY, POLICY.alpha).outcome == "drift"
    assert categorical_drift("plan", ref, same, POLICY, POLICY.alpha).outcome == "stable"


def test_a_window_with_too_few_rows_everywhere_is_not_enough_data() -> None:
    few = numeric_drift("x", RNG.normal(size=1000), RNG.normal(size=10), POLICY, 0.01)
    assert few.outcome == "not_enough_data" and math.isnan(few.p_value)
    assert summarise([few, few]) == "not_enough_data"
    assert summarise([]) == "stable"


def test_live_quality_equals_scikit_learn_with_bootstrap_intervals_around_it() -> None:
    from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

    from cd.monitor.judge import live_quality

    rng = np.random.default_rng(8)
    truth = rng.random(3000) < 0.3
    scores = np.clip(0.3 + 0.4 * truth + rng.normal(0, 0.2, 3000), 0.01, 0.99)
    quality = live_quality(
        "v2", 2, truth, scores, "binary_classification", ["roc_auc", "pr_auc", "log_loss"],
        {"roc_auc": (0.9, 0.88, 0.92)}, unmatched=4, confidence=0.95, resamples=200, seed=7,
    )  # fmt: skip
    figures = {f.metric: f for f in quality.figures}
    assert figures["roc_auc"].live == pytest.approx(roc_auc_score(truth, scores), abs=1e-9)
    assert figures["pr_auc"].live == pytest.approx(average_precision_score(truth, scores), abs=1e-9)
    assert figures["log_loss"].live == pytest.approx(log_loss(truth, scores), abs=1e-9)
    for f in figures.values():
        assert f.low is not None and f.high is not None and f.low < f.live < f.high
    assert (figures["roc_auc"].offline, quality.unmatched_labels, quality.labelled_rows) == (0.9, 4, 3000)

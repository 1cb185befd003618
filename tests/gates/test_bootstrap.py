"""Paired Poisson bootstrap: reproducible from a seed, independent of chunking, paired across models."""

from __future__ import annotations

import numpy as np
import pytest

import cd.gates.bootstrap as bootstrap_module
from cd.gates.bootstrap import bootstrap, percentile_interval, resample_counts
from cd.gates.metrics import BinaryKernel


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.random(2000) < 0.3
    a = np.clip(rng.normal(0.3 + 0.3 * y, 0.2), 0, 1)
    b = np.clip(rng.normal(0.3 + 0.25 * y, 0.2), 0, 1)
    return y, a, b


def test_same_seed_same_resamples() -> None:
    assert np.array_equal(resample_counts(1000, range(5), seed=3), resample_counts(1000, range(5), seed=3))


def test_different_seed_different_resamples() -> None:
    assert not np.array_equal(
        resample_counts(1000, range(5), seed=3), resample_counts(1000, range(5), seed=4)
    )


def test_resample_b_does_not_depend_on_which_other_resamples_are_drawn() -> None:
    assert np.array_equal(
        resample_counts(500, range(3, 4), seed=1)[0], resample_counts(500, range(6), seed=1)[3]
    )


def test_counts_are_poisson_one() -> None:
    counts = resample_counts(200_000, range(2), seed=0).astype(float)
    assert counts.mean() == pytest.approx(1.0, abs=0.01)
    assert counts.var() == pytest.approx(1.0, abs=0.02)


def test_bootstrap_is_reproducible_and_independent_of_chunking_and_threads(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    y, a, _ = data
    kernel = BinaryKernel(y, a, [np.arange(len(y))])
    first = bootstrap([kernel], len(y), 40, seed=7, workers=1)[0]["roc_auc"]
    monkeypatch.setattr(bootstrap_module, "_CHUNK_ELEMENTS", 3 * len(y))  # 3 resamples per chunk
    second = bootstrap([kernel], len(y), 40, seed=7, workers=2)[0]["roc_auc"]
    assert np.array_equal(first, second)


def test_candidate_and_incumbent_see_the_same_resamples(
    data: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    y, a, b = data
    rows = [np.arange(len(y))]
    cand, inc = bootstrap([BinaryKernel(y, a, rows), BinaryKernel(y, b, rows)], len(y), 30, seed=1)
    counts = resample_counts(len(y), range(30), seed=1)
    assert np.array_equal(cand["example_count"], inc["example_count"])
    assert np.allclose(cand["roc_auc"], BinaryKernel(y, a, rows).evaluate(counts)["roc_auc"], atol=1e-12)
    assert np.allclose(inc["roc_auc"], BinaryKernel(y, b, rows).evaluate(counts)["roc_auc"], atol=1e-12)


def test_identical_models_have_an_exactly_zero_paired_difference(
    data: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    y, a, _ = data
    rows = [np.arange(len(y))]
    cand, inc = bootstrap([BinaryKernel(y, a, rows), BinaryKernel(y, a.copy(), rows)], len(y), 25, seed=2)
    low, high = percentile_interval(cand["pr_auc"] - inc["pr_auc"], 0.95)
    assert (low[0], high[0]) == (0.0, 0.0)


def test_percentile_interval_is_nan_when_any_resample_is_nan() -> None:
    samples = np.array([[0.1, 0.2, 0.3], [0.1, np.nan, 0.3]])
    low, high = percentile_interval(samples, 0.9)
    assert low[0] == pytest.approx(0.11) and high[0] == pytest.approx(0.29)
    assert np.isnan(low[1]) and np.isnan(high[1])


def test_every_metric_is_bit_identical_whatever_the_chunking(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    y, a, _ = data
    groups = [np.flatnonzero(np.arange(len(y)) % 3 == k) for k in range(3)]
    kernel = BinaryKernel(y, a, groups)
    monkeypatch.setattr(bootstrap_module, "_CHUNK_ELEMENTS", len(y))  # 1 resample per chunk
    one = bootstrap([kernel], len(y), 20, seed=5, workers=1)[0]
    monkeypatch.setattr(bootstrap_module, "_CHUNK_ELEMENTS", 8 * len(y))  # 8, 8 and 4 per chunk
    eight = bootstrap([kernel], len(y), 20, seed=5, workers=2)[0]
    assert sorted(one) == sorted(eight)
    for name in one:
        assert np.array_equal(one[name], eight[name], equal_nan=True), name

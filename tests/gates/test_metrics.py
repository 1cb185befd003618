"""Metric values equal scikit-learn's on the same rows (to 1e-9), point estimates and resampled rows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from cd.errors import GateError
from cd.gates.metrics import (
    METRICS,
    BinaryKernel,
    MulticlassKernel,
    RegressionKernel,
    metric_info,
    point_estimates,
)
from tests.gates.sklearn_reference import sklearn_binary

TOL = 1e-9


def _binary_data(n: int = 600, ties: bool = False, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    p = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0.0, 1.0)
    if ties:
        p = np.round(p, 1)  # many ties, and exact 0.0 / 0.5 / 1.0 values
    return y, p


@pytest.mark.parametrize("ties", [False, True], ids=["continuous-scores", "tied-scores"])
def test_binary_point_estimates_equal_sklearn(ties: bool) -> None:
    y, p = _binary_data(ties=ties)
    ours = point_estimates(BinaryKernel(y, p, [np.arange(len(y))]), len(y))
    expected = sklearn_binary(y, p)
    assert set(ours) == set(METRICS["binary_classification"])
    for name, value in expected.items():
        assert ours[name][0] == pytest.approx(value, abs=TOL), name


def test_binary_metrics_per_slice_group_equal_sklearn_on_the_group_rows() -> None:
    y, p = _binary_data(n=900, ties=True, seed=3)
    groups = [np.arange(0, 900, 3), np.arange(1, 900, 3), np.arange(2, 900, 3)]
    ours = point_estimates(BinaryKernel(y, p, groups), len(y))
    for g, rows in enumerate(groups):
        for name, value in sklearn_binary(y[rows], p[rows]).items():
            assert ours[name][g] == pytest.approx(value, abs=TOL), (g, name)


@pytest.mark.parametrize("ties", [False, True], ids=["continuous-scores", "tied-scores"])
def test_binary_metrics_with_resample_counts_equal_sklearn_on_the_repeated_rows(ties: bool) -> None:
    y, p = _binary_data(n=500, ties=ties, seed=5)
    rng = np.random.default_rng(11)
    counts = rng.poisson(1.0, size=(3, len(y))).astype(np.uint8)
    values = BinaryKernel(y, p, [np.arange(len(y))]).evaluate(counts)
    for b in range(3):
        rows = np.repeat(np.arange(len(y)), counts[b])
        for name, value in sklearn_binary(y[rows], p[rows]).items():
            assert values[name][0, b] == pytest.approx(value, abs=TOL), (b, name)


def test_undefined_binary_metrics_are_nan() -> None:
    y = np.array([False, False, False, False])
    p = np.array([0.1, 0.2, 0.3, 0.4])
    ours = point_estimates(BinaryKernel(y, p, [np.arange(4)]), 4)
    assert np.isnan(ours["roc_auc"][0])  # no positives
    assert np.isnan(ours["pr_auc"][0])
    assert np.isnan(ours["recall"][0])
    assert np.isnan(ours["precision"][0])  # nothing predicted positive
    assert ours["accuracy"][0] == 1.0


def _multiclass_data(n: int = 500, k: int = 4, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, proba


def sklearn_multiclass(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    pred = proba.argmax(axis=1)
    return {
        "example_count": float(len(y)),
        "accuracy": skm.accuracy_score(y, pred),
        "macro_f1": skm.f1_score(y, pred, average="macro"),
        "weighted_f1": skm.f1_score(y, pred, average="weighted"),
        "log_loss": skm.log_loss(y, proba, labels=list(range(proba.shape[1]))),
    }


def test_multiclass_metrics_equal_sklearn() -> None:
    y, proba = _multiclass_data()
    groups = [np.arange(500), np.arange(0, 500, 2)]
    ours = point_estimates(MulticlassKernel(y, proba, groups), len(y))
    for g, rows in enumerate(groups):
        for name, value in sklearn_multiclass(y[rows], proba[rows]).items():
            assert ours[name][g] == pytest.approx(value, abs=TOL), (g, name)


def test_multiclass_macro_f1_ignores_classes_absent_from_truth_and_predictions_like_sklearn() -> None:
    y, proba = _multiclass_data(n=300, k=5, seed=4)
    keep = np.flatnonzero((y != 4) & (proba.argmax(axis=1) != 4))
    rng = np.random.default_rng(2)
    counts = rng.poisson(1.0, size=(2, len(keep))).astype(np.uint8)
    values = MulticlassKernel(y[keep], proba[keep], [np.arange(len(keep))]).evaluate(counts)
    for b in range(2):
        rows = np.repeat(keep, counts[b])
        for name, value in sklearn_multiclass(y[rows], proba[rows]).items():
            assert values[name][0, b] == pytest.approx(value, abs=TOL), (b, name)


def sklearn_regression(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {
        "example_count": float(len(y)),
        "rmse": skm.root_mean_squared_error(y, pred),
        "mae": skm.mean_absolute_error(y, pred),
        "r2": skm.r2_score(y, pred, force_finite=False),
        "mape": skm.mean_absolute_percentage_error(y, pred),
    }


def test_regression_metrics_equal_sklearn_including_resampled_rows() -> None:
    rng = np.random.default_rng(9)
    y = 1000.0 + rng.normal(50, 10, 400)  # a large offset: r2 must not lose precision
    pred = y + rng.normal(0, 4, 400)
    kernel = RegressionKernel(y, pred, [np.arange(400), np.arange(100)])
    ours = point_estimates(kernel, 400)
    for g, rows in enumerate([np.arange(400), np.arange(100)]):
        for name, value in sklearn_regression(y[rows], pred[rows]).items():
            assert ours[name][g] == pytest.approx(value, abs=TOL, rel=1e-12), (g, name)
    counts = rng.poisson(1.0, size=(2, 400)).astype(np.uint8)
    values = kernel.evaluate(counts)
    for b in range(2):
        rows = np.repeat(np.arange(400), counts[b])
        for name, value in sklearn_regression(y[rows], pred[rows]).items():
            assert values[name][0, b] == pytest.approx(value, abs=TOL, rel=1e-12), (b, name)


def test_metric_directions() -> None:
    assert metric_info("binary_classification", "roc_auc").higher_is_better is True
    assert metric_info("binary_classification", "log_loss").higher_is_better is False
    assert metric_info("regression", "rmse").higher_is_better is False
    assert metric_info("binary_classification", "example_count").higher_is_better is None


def test_unknown_metric_is_a_clear_error() -> None:
    with pytest.raises(GateError, match=r"^unknown metric 'rmse' for task binary_classification; known: "):
        metric_info("binary_classification", "rmse")


def test_metric_names_match_the_config_schema() -> None:
    from cd.config.checks import METRICS_BY_TASK

    assert {task: set(names) for task, names in METRICS.items()} == {
        task: set(names) for task, names in METRICS_BY_TASK.items()
    }

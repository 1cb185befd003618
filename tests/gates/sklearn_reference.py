"""The scikit-learn reference for binary metrics: what cd.gates must equal (tests) and what the
benchmark times and compares against."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve


def sklearn_binary(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    pred = p > 0.5
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy="uniform")
    counts = np.bincount(np.searchsorted(np.linspace(0, 1 + 1e-8, 11)[1:-1], p), minlength=10)
    ece = float(np.sum(counts[counts > 0] / len(y) * np.abs(prob_true - prob_pred)))
    return {
        "example_count": float(len(y)),
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred, zero_division=np.nan),
        "recall": skm.recall_score(y, pred, zero_division=np.nan),
        "f1": skm.f1_score(y, pred, zero_division=np.nan),
        "roc_auc": skm.roc_auc_score(y, p),
        "pr_auc": skm.average_precision_score(y, p),
        "log_loss": skm.log_loss(y, p, labels=[False, True]),
        "brier": skm.brier_score_loss(y, p),
        "expected_calibration_error": ece,
    }

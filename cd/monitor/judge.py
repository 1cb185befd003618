"""The monitor's decisions, pure: each variant's live inputs and predictions against the reference, one
variant against another on the same window (canary, shadow, experiment), and live quality once labels
arrive. Inputs are arrays and frames; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from cd.config.model import Column, DriftPolicy
from cd.monitor.statistics import (
    FeatureDrift,
    Outcome,
    categorical_drift,
    corrected_level,
    numeric_drift,
    summarise,
)

if TYPE_CHECKING:
    import pandas as pd

PREDICTION = "prediction"  # the name under which the model's score is tested
NUMERIC_TYPES = ("integer", "number")


@dataclass(frozen=True)
class Reference:
    """What live traffic is compared with: a frame of the model's inputs and, when known, its scores."""

    description: str  # e.g. "data/churn_test.csv (sha256 29f921def144)"
    frame: pd.DataFrame
    scores: np.ndarray | None  # the live version's score per reference row; None: no prediction drift


@dataclass(frozen=True)
class VariantDrift:
    variant: str
    version: int | None
    rows: int
    against: str  # "reference" or the variant compared with
    features: tuple[FeatureDrift, ...]
    prediction: FeatureDrift | None
    outcome: Outcome

    @property
    def drifted_features(self) -> tuple[FeatureDrift, ...]:
        return tuple(
            f for f in (*self.features, *([self.prediction] if self.prediction else [])) if f.drifted
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "version": self.version,
            "rows": self.rows,
            "against": self.against,
            "outcome": self.outcome,
            "features": [f.to_dict() for f in self.features],
            "prediction": None if self.prediction is None else self.prediction.to_dict(),
        }


def _one(column: Column, reference: Any, live: Any, policy: DriftPolicy, level: float) -> FeatureDrift:
    if column.type in NUMERIC_TYPES:
        return numeric_drift(column.name, reference, live, policy, level)
    return categorical_drift(column.name, reference, live, policy, level)


def drift_between(
    baseline: pd.DataFrame,
    baseline_scores: np.ndarray | None,
    live: pd.DataFrame,
    live_scores: np.ndarray,
    columns: Sequence[Column],
    policy: DriftPolicy,
    *,
    workers: int = 2,
) -> tuple[tuple[FeatureDrift, ...], FeatureDrift | None]:
    """Every input column, and the score when the baseline has scores, tested together (Bonferroni)."""
    with_prediction = baseline_scores is not None
    level = corrected_level(policy, len(columns) + int(with_prediction))

    def run(column: Column) -> FeatureDrift:
        return _one(column, baseline[column.name], live[column.name], policy, level)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:  # the sorts release the GIL
        features = tuple(pool.map(run, columns))
    prediction = None
    if baseline_scores is not None:
        known = live_scores[~np.isnan(live_scores)]
        prediction = numeric_drift(PREDICTION, baseline_scores, known, policy, level)
    return features, prediction


def judge_variant(
    reference: Reference,
    variant: str,
    version: int | None,
    live: pd.DataFrame,
    live_scores: np.ndarray,
    columns: Sequence[Column],
    policy: DriftPolicy,
) -> VariantDrift:
    features, prediction = drift_between(
        reference.frame, reference.scores, live, live_scores, columns, policy
    )
    outcome = summarise([*features, *([prediction] if prediction else [])])
    return VariantDrift(variant, version, len(live), "reference", features, prediction, outcome)


def compare_variants(
    stable: str,
    stable_frame: pd.DataFrame,
    stable_scores: np.ndarray,
    candidate: str,
    candidate_version: int | None,
    candidate_frame: pd.DataFrame,
    candidate_scores: np.ndarray,
    columns: Sequence[Column],
    policy: DriftPolicy,
) -> VariantDrift:
    """The candidate's live inputs and predictions against stable's on the same window: inputs should
    match (the router splits at random), predictions show how differently the candidate answers."""
    known = stable_scores[~np.isnan(stable_scores)]
    features, prediction = drift_between(
        stable_frame, known, candidate_frame, candidate_scores, columns, policy
    )
    outcome = summarise([*features, *([prediction] if prediction else [])])
    return VariantDrift(
        candidate, candidate_version, len(candidate_frame), stable, features, prediction, outcome
    )


# ---------------------------------------------------------------- live quality


@dataclass(frozen=True)
class QualityFigure:
    metric: str
    live: float
    low: float | None
    high: float | None
    offline: float | None  # the gate's figure for the same version (overall), when recorded
    offline_low: float | None = None
    offline_high: float | None = None

    def to_dict(self) -> dict[str, Any]:
        def clean(x: float | None) -> float | None:
            return None if x is None or math.isnan(x) else round(x, 6)

        return {
            "metric": self.metric,
            "live": clean(self.live),
            "low": clean(self.low),
            "high": clean(self.high),
            "offline": clean(self.offline),
            "offline_low": clean(self.offline_low),
            "offline_high": clean(self.offline_high),
        }


@dataclass(frozen=True)
class LiveQuality:
    variant: str
    version: int | None
    labelled_rows: int
    unmatched_labels: int
    confidence: float
    figures: tuple[QualityFigure, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "version": self.version,
            "labelled_rows": self.labelled_rows,
            "unmatched_labels": self.unmatched_labels,
            "confidence": self.confidence,
            "figures": [f.to_dict() for f in self.figures],
        }


def live_quality(
    variant: str,
    version: int | None,
    truth: np.ndarray,
    scores: np.ndarray,
    task: str,
    metrics: Sequence[str],
    offline: Mapping[str, tuple[float, float | None, float | None]],
    *,
    unmatched: int,
    confidence: float,
    resamples: int,
    seed: int,
) -> LiveQuality:
    """The gate's metrics on the labelled live rows, with percentile bootstrap intervals (the gate's own
    kernels and resampling), beside the gate's offline figures for the same version."""
    from cd.gates.bootstrap import bootstrap, percentile_interval
    from cd.gates.metrics import BinaryKernel, RegressionKernel, point_estimates

    rows = np.arange(len(truth))
    kernel = (
        BinaryKernel(truth.astype(bool), scores, [rows])
        if task == "binary_classification"
        else RegressionKernel(truth.astype(np.float64), scores, [rows])
    )
    point = point_estimates(kernel, len(truth)) if len(truth) else {}
    samples = bootstrap([kernel], len(truth), resamples, seed)[0] if len(truth) else {}
    figures = []
    for metric in metrics:
        if metric not in point:
            continue
        low, high = (None, None)
        if metric in samples:
            lo, hi = percentile_interval(samples[metric], confidence)
            low, high = float(lo[0]), float(hi[0])
        off = offline.get(metric)
        figures.append(
            QualityFigure(
                metric,
                float(point[metric][0]),
                low,
                high,
                None if off is None else off[0],
                None if off is None else off[1],
                None if off is None else off[2],
            )
        )
    return LiveQuality(variant, version, len(truth), unmatched, confidence, tuple(figures))

"""Permutation importance for candidate and incumbent on the gate's dataset, overall and per slice.

`sklearn.inspection.permutation_importance` does the permuting and scoring: one scorer that returns the
gate's first metric on every slice at once, so each permutation costs one prediction however many slices
there are. Importance is the metric's drop when a feature is shuffled (for a metric where lower is better,
its rise): how much the model leans on that feature. The cost is bounded: a fixed-size sample of rows
(seeded with the gate's seed, so the figures are reproducible) and a fixed number of repeats.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cd.gates.explain import ShapSummary, shap_from_dict
from cd.gates.slicing import Partition

DEFAULT_ROWS = 2000
DEFAULT_REPEATS = 3  # each repeat is one prediction per feature: the cost is in the calls, not the rows
TOP = 5  # features shown in reports


@dataclass(frozen=True)
class FeatureImportance:
    feature: str
    mean: float  # the metric's loss when the feature is shuffled (mean over repeats)
    std: float


@dataclass(frozen=True)
class SliceImportance:
    slice: str
    rows: int
    candidate: tuple[FeatureImportance, ...]  # sorted, most important first
    incumbent: tuple[FeatureImportance, ...] | None

    def shift(self) -> dict[str, float]:
        """candidate - incumbent per feature (NaN-free; empty without an incumbent)."""
        if self.incumbent is None:
            return {}
        inc = {f.feature: f.mean for f in self.incumbent}
        return {f.feature: f.mean - inc.get(f.feature, 0.0) for f in self.candidate}


@dataclass(frozen=True)
class Importance:
    metric: str
    rows: int  # rows sampled
    repeats: int
    seed: int
    seconds: float  # wall time of both models' importances
    slices: tuple[SliceImportance, ...]  # overall first
    shap: ShapSummary | None = None  # where the gate asks for SHAP values too (cd.gates.explain)

    def overall(self) -> SliceImportance:
        return self.slices[0]

    def to_dict(self) -> dict[str, Any]:
        def table(rows: tuple[FeatureImportance, ...] | None) -> list[dict[str, Any]] | None:
            if rows is None:
                return None
            return [{"feature": f.feature, "mean": round(f.mean, 6), "std": round(f.std, 6)} for f in rows]

        return {
            "metric": self.metric,
            "rows": self.rows,
            "repeats": self.repeats,
            "seed": self.seed,
            "seconds": round(self.seconds, 3),
            "slices": [
                {
                    "slice": s.slice,
                    "rows": s.rows,
                    "candidate": table(s.candidate),
                    "incumbent": table(s.incumbent),
                }
                for s in self.slices
            ],
            **({"shap": self.shap.to_dict()} if self.shap is not None else {}),
        }


def importance_from_dict(data: Mapping[str, Any]) -> Importance:
    def table(rows: Sequence[Mapping[str, Any]] | None) -> tuple[FeatureImportance, ...] | None:
        if rows is None:
            return None
        return tuple(FeatureImportance(r["feature"], float(r["mean"]), float(r["std"])) for r in rows)

    return Importance(
        metric=data["metric"],
        rows=int(data["rows"]),
        repeats=int(data["repeats"]),
        seed=int(data["seed"]),
        seconds=float(data["seconds"]),
        slices=tuple(
            SliceImportance(s["slice"], int(s["rows"]), table(s["candidate"]) or (), table(s["incumbent"]))
            for s in data["slices"]
        ),
        shap=shap_from_dict(data["shap"]) if data.get("shap") else None,
    )


# ---------------------------------------------------------------- computing


def _metric(task: str, name: str) -> tuple[str, Callable[[NDArray[Any], NDArray[Any]], float], float]:
    """(metric used, score(truth, predicted) with higher better, sign turning it back into the metric)."""
    from sklearn import metrics as m

    binary = {
        "roc_auc": (rank_auc, 1.0),
        "pr_auc": (_average_precision, 1.0),
        "log_loss": (lambda y, p: -m.log_loss(y, p, labels=[False, True]), -1.0),
        "brier": (lambda y, p: -m.brier_score_loss(y, p), -1.0),
    }
    regression = {
        "r2": (m.r2_score, 1.0),
        "mae": (lambda y, p: -m.mean_absolute_error(y, p), -1.0),
        "rmse": (lambda y, p: -math.sqrt(m.mean_squared_error(y, p)), -1.0),
    }
    table = binary if task == "binary_classification" else regression
    chosen = name if name in table else next(iter(table))
    score, sign = table[chosen]
    return chosen, score, sign


def _average_precision(truth: NDArray[Any], scores: NDArray[Any]) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(truth, scores))


def rank_auc(truth: NDArray[Any], scores: NDArray[Any]) -> float:
    """ROC AUC by the Mann-Whitney rank sum (ties averaged): `roc_auc_score`'s value without its input
    checks, which cost more than the whole rest of a permutation; NaN with one class only."""
    from scipy.stats import rankdata

    positive = np.asarray(truth, dtype=bool)
    n1 = int(positive.sum())
    n0 = len(positive) - n1
    if n1 == 0 or n0 == 0:
        return math.nan
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


class _Scored:
    """The model as permutation_importance sees it: `fit` is never called; `score_rows` predicts once."""

    def __init__(self, predict: Callable[[Any], NDArray[np.float64]]) -> None:
        self.predict_scores = predict

    def fit(self, *_: Any) -> _Scored:  # sklearn's estimator protocol; the model is already trained
        return self


def _defined(score: Callable[[NDArray[Any], NDArray[Any]], float], y: NDArray[Any], p: NDArray[Any]) -> float:
    if len(np.unique(y)) < 2 and score in (rank_auc, _average_precision):
        return math.nan
    return float(score(y, p))


def permutation_table(
    predict: Callable[[Any], NDArray[np.float64]],
    features: Any,
    truth: NDArray[Any],
    groups: Sequence[tuple[str, NDArray[np.intp]]],
    task: str,
    metric: str,
    *,
    repeats: int,
    seed: int,
) -> dict[str, tuple[FeatureImportance, ...]]:
    """Per group: each feature's importance, most important first (sklearn's permutation_importance)."""
    from sklearn.inspection import permutation_importance

    _, score, _ = _metric(task, metric)

    def scorer(estimator: _Scored, X: Any, y: NDArray[Any]) -> dict[str, float]:
        predicted = estimator.predict_scores(X)
        return {label: _defined(score, y[rows], predicted[rows]) for label, rows in groups}

    result = permutation_importance(
        _Scored(predict), features, truth, scoring=scorer, n_repeats=repeats, random_state=seed
    )
    names = list(features.columns)
    out = {}
    for label, _rows in groups:
        bunch = result[label]
        rows = [
            FeatureImportance(name, float(np.nan_to_num(mean)), float(np.nan_to_num(std)))
            for name, mean, std in zip(names, bunch.importances_mean, bunch.importances_std, strict=True)
        ]
        out[label] = tuple(sorted(rows, key=lambda f: (-f.mean, f.feature)))
    return out


def sample_rows(n_rows: int, size: int, seed: int) -> NDArray[np.intp]:
    """A fixed, sorted sample of row positions (all rows when there are fewer)."""
    if n_rows <= size:
        return np.arange(n_rows, dtype=np.intp)
    return np.sort(np.random.default_rng(seed).choice(n_rows, size=size, replace=False)).astype(np.intp)


def compute_importance(
    candidate: Callable[[Any], NDArray[np.float64]],
    incumbent: Callable[[Any], NDArray[np.float64]] | None,
    features: Any,
    truth: NDArray[Any],
    partitions: Sequence[Partition],
    task: str,
    metric: str,
    *,
    rows: int = DEFAULT_ROWS,
    repeats: int = DEFAULT_REPEATS,
    seed: int = 0,
    min_rows: int = 100,
) -> Importance:
    """Both models' importances on the same sampled rows, overall and for every slice that keeps at least
    `min_rows` of the sample."""
    started = time.perf_counter()
    picked = sample_rows(len(truth), rows, seed)
    position = np.full(len(truth), -1, dtype=np.intp)
    position[picked] = np.arange(len(picked))
    groups: list[tuple[str, NDArray[np.intp]]] = [("overall", np.arange(len(picked), dtype=np.intp))]
    for part in partitions:
        if part.spec == "overall":
            continue
        for group in part.groups:
            kept = position[group.rows]
            kept = kept[kept >= 0]
            if len(kept) >= min_rows:
                groups.append((group.label, np.sort(kept)))
    sample = features.iloc[picked].reset_index(drop=True)
    y = np.asarray(truth)[picked]
    used, _, _ = _metric(task, metric)
    # One model after the other: in threads the two contend for the GIL and take longer (measured).
    cand = permutation_table(candidate, sample, y, groups, task, used, repeats=repeats, seed=seed)
    inc = (
        permutation_table(incumbent, sample, y, groups, task, used, repeats=repeats, seed=seed)
        if incumbent is not None
        else None
    )
    slices = tuple(
        SliceImportance(label, len(idx), cand[label], None if inc is None else inc[label])
        for label, idx in groups
    )
    return Importance(used, len(picked), repeats, seed, time.perf_counter() - started, slices)


# ---------------------------------------------------------------- for reports


@dataclass(frozen=True)
class ImportanceRow:
    feature: str
    candidate: float
    incumbent: float | None

    @property
    def shift(self) -> float | None:
        return None if self.incumbent is None else self.candidate - self.incumbent


def side_by_side(
    candidate: Sequence[tuple[str, float]], incumbent: Sequence[tuple[str, float]] | None, top: int = TOP
) -> list[tuple[str, float, float | None]]:
    """(feature, candidate's figure, incumbent's) for the candidate's `top` features (each list ranked,
    largest first), then any the incumbent ranks in its top; 0.0 for a feature one version lacks."""
    names = [name for name, _ in candidate[:top]]
    if incumbent is not None:
        names += [name for name, _ in incumbent[:top] if name not in names]
    cand, inc = dict(candidate), None if incumbent is None else dict(incumbent)
    return [(n, cand.get(n, 0.0), None if inc is None else inc.get(n, 0.0)) for n in names]


def top_rows(importance: Importance, slice_label: str = "overall", top: int = TOP) -> list[ImportanceRow]:
    """The slice's most important features (by the candidate, then any the incumbent ranks in its top),
    with both versions' figures."""
    found = next((s for s in importance.slices if s.slice == slice_label), None)
    if found is None:
        return []

    def ranked(rows: tuple[FeatureImportance, ...]) -> list[tuple[str, float]]:
        return [(f.feature, f.mean) for f in rows]

    inc = None if found.incumbent is None else ranked(found.incumbent)
    return [ImportanceRow(*row) for row in side_by_side(ranked(found.candidate), inc, top)]


def slice_story(importance: Importance, slice_label: str, top: int = 3) -> str | None:
    """`candidate leans on a 0.08, b 0.05; incumbent on c 0.21, a 0.02` for one slice (None if not computed)."""
    found = next((s for s in importance.slices if s.slice == slice_label), None)
    if found is None:
        return None

    def lean(rows: tuple[FeatureImportance, ...]) -> str:
        return ", ".join(f"{f.feature} {f.mean:.3f}" for f in rows[:top])

    text = f"candidate leans on {lean(found.candidate)}"
    if found.incumbent is not None:
        text += f"; incumbent on {lean(found.incumbent)}"
    return text

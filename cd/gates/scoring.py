"""Predictions from a registered model, in the form each task's metrics need.

Classifiers are scored with class probabilities (`predict_proba` when the model has it: MLflow's
sklearn flavor). A model that only predicts labels can still be judged on label metrics (accuracy,
precision, recall, f1); a gate that asks it for a ranking or probability metric gets an error naming
the metrics and the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from cd.errors import GateError, RegistryError
from cd.gates.metrics import metric_info

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Predictions:
    """Truth and prediction arrays for one model on the dataset's rows."""

    task: str
    truth: NDArray[Any]  # binary: bool positive; multiclass: class index; regression: float target
    predicted: NDArray[np.float64]  # binary: P(positive); multiclass: (n, K) probabilities; regression: value
    classes: tuple[Any, ...] = ()
    probabilities: bool = True


def load_model(model_dir: Path) -> Any:
    """The model in a local MLflow model directory: the sklearn object when it has that flavor
    (so predict_proba is available), else the pyfunc."""
    import mlflow
    import yaml

    mlmodel = model_dir / "MLmodel"
    if not mlmodel.is_file():
        raise RegistryError(f"{model_dir} is not an MLflow model directory (no MLmodel file)")
    flavors = (yaml.safe_load(mlmodel.read_text()) or {}).get("flavors", {})
    try:
        if "sklearn" in flavors:
            return mlflow.sklearn.load_model(str(model_dir))
        return mlflow.pyfunc.load_model(str(model_dir))
    except Exception as exc:  # MLflow and the model's own code raise anything
        raise RegistryError(
            f"cannot load the MLflow model in {model_dir}: {type(exc).__name__}: {exc}"
        ) from exc


def probability_metrics(task: str, metrics: Sequence[str]) -> list[str]:
    return [m for m in metrics if metric_info(task, m).needs_probabilities]


def _call(model: Any, method: str, features: pd.DataFrame, who: str) -> NDArray[Any]:
    try:
        return np.asarray(getattr(model, method)(features))
    except Exception as exc:
        raise GateError(
            f"{who}: {method} failed on the evaluation dataset: {type(exc).__name__}: {exc}"
        ) from exc


def _require_probabilities(task: str, metrics: Sequence[str], who: str) -> None:
    needing = probability_metrics(task, metrics)
    if needing:
        raise GateError(
            f"{who} cannot give class probabilities (no predict_proba), but the gate's metrics "
            f"{', '.join(needing)} need them; log the model with a flavor that has predict_proba "
            "(e.g. mlflow.sklearn) or gate it on label metrics only"
        )


def _encode_truth(labels: NDArray[Any], classes: Sequence[Any], who: str) -> NDArray[np.intp]:
    index = {c: i for i, c in enumerate(classes)}
    try:
        return np.fromiter((index[v] for v in labels.tolist()), dtype=np.intp, count=len(labels))
    except KeyError as exc:
        raise GateError(
            f"{who}: dataset label {exc.args[0]!r} is not one of the model's classes {list(classes)}"
        ) from exc


PROBABILITY_TOLERANCE = 1e-6


def _rows(out: NDArray[Any], expected: int, method: str, who: str) -> NDArray[Any]:
    if out.ndim == 0 or out.shape[0] != expected:
        got = 0 if out.ndim == 0 else out.shape[0]
        raise GateError(f"{who}: {method} returned {got} rows for the dataset's {expected}")
    return out


def _numbers(out: NDArray[Any], method: str, who: str) -> NDArray[np.float64]:
    try:
        values = out.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise GateError(f"{who}: {method} returned values that are not numbers ({exc})") from exc
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        raise GateError(
            f"{who}: {method} returned {bad} non-finite values (NaN or infinite); refusing to judge"
        )
    return values


def _check_probabilities(proba: NDArray[np.float64], who: str) -> None:
    outside = int(np.count_nonzero((proba < -PROBABILITY_TOLERANCE) | (proba > 1 + PROBABILITY_TOLERANCE)))
    if outside:
        raise GateError(f"{who}: predict_proba returned {outside} values outside [0, 1]")
    off = int(np.count_nonzero(np.abs(proba.sum(axis=1) - 1.0) > PROBABILITY_TOLERANCE))
    if off:
        raise GateError(f"{who}: predict_proba rows must sum to 1; {off} rows do not")


def _same_label(a: object, b: object) -> bool:
    """Equal labels; a boolean equals only a boolean (True is not the label 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def positive_class(classes: Sequence[Any], explicit: object, who: str) -> Any:
    """The binary positive class, matched by label: `explicit` (the gate's `dataset.positive_label`), else
    1 / True when the labels are 0/1 or false/true; an error naming the labels otherwise."""
    if explicit is not None:
        for c in classes:
            if _same_label(c, explicit):
                return c
        raise GateError(
            f"{who}: positive_label {explicit!r} is not one of the model's classes {list(classes)}"
        )
    if set(classes) <= {0, 1}:
        return next(c for c in classes if c == 1)
    raise GateError(
        f"{who}: binary labels {list(classes)} have no obvious positive class; set "
        "`dataset.positive_label` in the gate"
    )


def predict(
    model: Any,
    features: pd.DataFrame,
    labels: pd.Series,
    task: str,
    metrics: Sequence[str],
    who: str,
    positive_label: object = None,
) -> Predictions:
    """Score `features` with `model` and validate what it returned (row count, finite, probabilities in
    [0, 1] summing to 1) before any metric; `who` names the model version in errors."""
    raw_labels = labels.to_numpy()
    n = len(features)
    if task == "regression":
        out = _numbers(_rows(_call(model, "predict", features, who), n, "predict", who), "predict", who)
        out = out.reshape(n, -1)
        if out.shape[1] != 1:
            raise GateError(
                f"{who}: predict returned {out.shape[1]} columns; a regression model must return one"
            )
        return Predictions(task, raw_labels.astype(np.float64), out[:, 0])

    has_proba = hasattr(model, "predict_proba")
    classes = tuple(np.asarray(getattr(model, "classes_", [])).tolist())
    if has_proba:
        raw = _rows(_call(model, "predict_proba", features, who), n, "predict_proba", who)
        proba = _numbers(raw, "predict_proba", who).reshape(n, -1)
        _check_probabilities(proba, who)
        if not classes:
            classes = tuple(range(proba.shape[1]))
        if len(classes) != proba.shape[1]:
            raise GateError(f"{who}: predict_proba gave {proba.shape[1]} columns for classes {list(classes)}")
    else:
        _require_probabilities(task, metrics, who)
        predicted_labels = _rows(_call(model, "predict", features, who), n, "predict", who).reshape(n)
        classes = classes or tuple(sorted(set(raw_labels.tolist()) | set(predicted_labels.tolist())))
        proba = np.zeros((len(features), len(classes)))
        proba[np.arange(len(features)), _encode_truth(predicted_labels, classes, who)] = 1.0

    truth = _encode_truth(raw_labels, classes, who)
    if task == "binary_classification":
        if proba.shape[1] != 2:
            raise GateError(f"{who}: a binary classifier must give 2 class columns, got {proba.shape[1]}")
        column = classes.index(positive_class(classes, positive_label, who))
        return Predictions(task, truth == column, proba[:, column], classes, has_proba)
    return Predictions(task, truth, proba, classes, has_proba)

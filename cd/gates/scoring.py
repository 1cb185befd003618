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


def predict(
    model: Any, features: pd.DataFrame, labels: pd.Series, task: str, metrics: Sequence[str], who: str
) -> Predictions:
    """Score `features` with `model`; `who` names the model version in errors."""
    raw_labels = labels.to_numpy()
    if task == "regression":
        out = _call(model, "predict", features, who).astype(np.float64).reshape(len(features), -1)
        if out.shape[1] != 1:
            raise GateError(
                f"{who}: predict returned {out.shape[1]} columns; a regression model must return one"
            )
        return Predictions(task, raw_labels.astype(np.float64), out[:, 0])

    has_proba = hasattr(model, "predict_proba")
    classes = tuple(np.asarray(getattr(model, "classes_", [])).tolist())
    if has_proba:
        proba = _call(model, "predict_proba", features, who).astype(np.float64)
        if not classes:
            classes = tuple(range(proba.shape[1]))
    else:
        _require_probabilities(task, metrics, who)
        predicted_labels = _call(model, "predict", features, who).reshape(len(features))
        classes = classes or tuple(sorted(set(raw_labels.tolist()) | set(predicted_labels.tolist())))
        proba = np.zeros((len(features), len(classes)))
        proba[np.arange(len(features)), _encode_truth(predicted_labels, classes, who)] = 1.0

    truth = _encode_truth(raw_labels, classes, who)
    if task == "binary_classification":
        if proba.shape[1] != 2:
            raise GateError(f"{who}: a binary classifier must give 2 class columns, got {proba.shape[1]}")
        return Predictions(task, truth == 1, proba[:, 1], classes, has_proba)
    return Predictions(task, truth, proba, classes, has_proba)

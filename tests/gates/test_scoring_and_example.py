"""Scores from models, and the example churn data: deterministic bytes pinned by the gate."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from cd.config import load_repo
from cd.errors import GateError
from cd.examples import churn
from cd.gates.scoring import predict
from tests.helpers import PROJECT_ROOT

FEATURES = pd.DataFrame({"x": [0.1, 0.6, 0.9, 0.4]})
LABELS = pd.Series([0, 1, 1, 0])


class LabelOnlyModel:
    """A model object without predict_proba (like a pyfunc that returns labels)."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (frame["x"] > 0.5).astype(int).to_numpy()


def test_a_probability_metric_on_a_label_only_model_is_a_clear_error() -> None:
    with pytest.raises(GateError) as err:
        predict(
            LabelOnlyModel(),
            FEATURES,
            LABELS,
            "binary_classification",
            ["recall", "roc_auc", "log_loss"],
            "model 'churn' version 7",
        )
    assert str(err.value) == (
        "model 'churn' version 7 cannot give class probabilities (no predict_proba), but the gate's metrics "
        "roc_auc, log_loss need them; log the model with a flavor that has predict_proba (e.g. mlflow.sklearn) "
        "or gate it on label metrics only"
    )


def test_label_metrics_work_on_a_label_only_model() -> None:
    scores = predict(LabelOnlyModel(), FEATURES, LABELS, "binary_classification", ["recall"], "m")
    assert scores.truth.tolist() == [False, True, True, False]
    assert scores.predicted.tolist() == [0.0, 1.0, 1.0, 0.0]
    assert scores.probabilities is False


def test_string_labels_need_an_explicit_positive_label() -> None:
    from sklearn.linear_model import LogisticRegression

    labels = pd.Series(["stay", "churn", "churn", "stay"])
    model = LogisticRegression().fit(FEATURES, labels)
    with pytest.raises(GateError) as err:
        predict(model, FEATURES, labels, "binary_classification", ["roc_auc"], "m")
    assert str(err.value) == (
        "m: binary labels ['churn', 'stay'] have no obvious positive class; set `dataset.positive_label` in the gate"
    )
    scores = predict(
        model, FEATURES, labels, "binary_classification", ["roc_auc"], "m", positive_label="churn"
    )
    assert scores.truth.tolist() == [False, True, True, False]
    assert np.allclose(scores.predicted, model.predict_proba(FEATURES)[:, 0])  # the "churn" column


class Reordered:
    """A binary model whose classes are [1, 0]: the positive class is its first column."""

    classes_ = np.array([1, 0])

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        p = frame["x"].to_numpy()
        return np.c_[p, 1 - p]


def test_the_positive_class_is_matched_by_label_not_by_column() -> None:
    scores = predict(Reordered(), FEATURES, LABELS, "binary_classification", ["roc_auc"], "m")
    assert scores.truth.tolist() == [False, True, True, False]
    assert scores.predicted.tolist() == [0.1, 0.6, 0.9, 0.4]


class Returns:
    """A model whose predict_proba returns what it is given."""

    classes_ = np.array([0, 1])

    def __init__(self, proba: np.ndarray) -> None:
        self.proba = proba

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.proba


@pytest.mark.parametrize(
    ("proba", "message"),
    [
        (
            np.array([[0.5, 0.5], [np.nan, np.nan], [0.2, 0.8], [0.9, 0.1]]),
            "m: predict_proba returned 2 non-finite values (NaN or infinite); refusing to judge",
        ),
        (
            np.array([[0.5, 0.5], [0.2, 0.8], [0.9, 0.1]]),
            "m: predict_proba returned 3 rows for the dataset's 4",
        ),
        (
            np.array([[1.5, -0.5], [0.5, 0.5], [0.2, 0.8], [0.9, 0.1]]),
            "m: predict_proba returned 2 values outside [0, 1]",
        ),
        (
            np.array([[0.5, 0.6], [0.5, 0.5], [0.2, 0.8], [0.9, 0.1]]),
            "m: predict_proba rows must sum to 1; 1 rows do not",
        ),
    ],
    ids=["nan", "one row short", "outside [0, 1]", "rows do not sum to 1"],
)
def test_predictions_are_validated_before_any_metric(proba: np.ndarray, message: str) -> None:
    with pytest.raises(GateError) as err:
        predict(Returns(proba), FEATURES, LABELS, "binary_classification", ["roc_auc"], "m")
    assert str(err.value) == message


def test_a_label_the_model_does_not_know_is_a_clear_error() -> None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(FEATURES, LABELS)
    with pytest.raises(GateError, match=r"^m: dataset label 2 is not one of the model's classes \[0, 1\]$"):
        predict(model, FEATURES, pd.Series([0, 1, 2, 0]), "binary_classification", ["roc_auc"], "m")


def test_generated_test_set_bytes_match_the_pinned_sha256() -> None:
    data = churn.to_csv_bytes(churn.generate(churn.TEST_ROWS, churn.TEST_SEED))
    assert hashlib.sha256(data).hexdigest() == churn.TEST_SHA256


def test_the_template_gate_pins_the_generated_test_set() -> None:
    from cd.config import build_repo_config

    files = {
        p.relative_to(PROJECT_ROOT).as_posix(): p.read_bytes()
        for top in ("environments", "gates", "models")
        for p in (PROJECT_ROOT / top).rglob("*.yaml")
    }
    gate = build_repo_config(files).gates["churn"]
    assert (gate.dataset.uri, gate.dataset.sha256) == (churn.TEST_PATH, churn.TEST_SHA256)


def test_generated_data_has_the_model_inputs_and_label() -> None:
    frame = churn.generate(500, 1)
    model = load_repo(PROJECT_ROOT).models["churn"]
    assert list(frame.columns) == [*model.input_names, churn.LABEL]
    assert set(frame["plan"]) == set(churn.PLANS) and set(frame[churn.LABEL]) == {0, 1}

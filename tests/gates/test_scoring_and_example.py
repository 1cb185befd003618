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


def test_predict_proba_is_used_with_the_models_class_order() -> None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(FEATURES, pd.Series(["stay", "churn", "churn", "stay"]))
    scores = predict(
        model,
        FEATURES,
        pd.Series(["stay", "churn", "churn", "stay"]),
        "binary_classification",
        ["roc_auc"],
        "m",
    )
    assert list(model.classes_) == ["churn", "stay"]
    assert scores.truth.tolist() == [True, False, False, True]  # positive = classes_[1]
    assert np.allclose(scores.predicted, model.predict_proba(FEATURES)[:, 1])


def test_a_label_the_model_does_not_know_is_a_clear_error() -> None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(FEATURES, LABELS)
    with pytest.raises(GateError, match=r"^m: dataset label 2 is not one of the model's classes \[0, 1\]$"):
        predict(model, FEATURES, pd.Series([0, 1, 2, 0]), "binary_classification", ["roc_auc"], "m")


def test_generated_test_set_bytes_match_the_pinned_sha256() -> None:
    data = churn.to_csv_bytes(churn.generate(churn.TEST_ROWS, churn.TEST_SEED))
    assert hashlib.sha256(data).hexdigest() == churn.TEST_SHA256


def test_the_template_gate_reads_the_generated_test_set_and_can_pin_it() -> None:
    from cd.config import build_repo_config
    from tests.gates.conftest import pin_dataset

    files = {
        p.relative_to(PROJECT_ROOT).as_posix(): p.read_bytes()
        for top in ("environments", "gates", "models")
        for p in (PROJECT_ROOT / top).rglob("*.yaml")
    }
    files["gates/churn.yaml"] = pin_dataset(files["gates/churn.yaml"].decode()).encode()
    gate = build_repo_config(files).gates["churn"]
    assert (gate.dataset.uri, gate.dataset.sha256) == (churn.TEST_PATH, churn.TEST_SHA256)


def test_generated_data_has_the_model_inputs_and_label() -> None:
    frame = churn.generate(500, 1)
    model = load_repo(PROJECT_ROOT).models["churn"]
    assert list(frame.columns) == [*model.input_names, churn.LABEL]
    assert set(frame["plan"]) == set(churn.PLANS) and set(frame[churn.LABEL]) == {0, 1}

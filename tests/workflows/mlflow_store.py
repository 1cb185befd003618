"""A real MLflow store (sqlite) holding `churn` v1 and v2, and the evaluation dataset the template's
gate (`gates/churn.yaml`) reads: what the pr-gate end-to-end run needs."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cd.registry import Registry
from tests.helpers import git

DATASET = "data/churn_test.csv"


def churn_frame(rows: int, seed: int) -> tuple[Any, Any]:
    """Synthetic accounts with the columns of models/churn/model.yaml, and a `churned` label."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tenure_months": rng.integers(0, 72, rows).astype("int64"),
            "monthly_charges": rng.uniform(10, 120, rows).round(2),
            "support_calls": rng.poisson(1.5, rows).astype("int64"),
            "usage_gb": rng.gamma(2.0, 20.0, rows).round(3),
            "plan": rng.choice(["basic", "plus", "pro"], rows),
            "region": rng.choice(["north", "south", "east", "west"], rows),
            "autopay": rng.random(rows) < 0.5,
        }
    )
    logit = (
        -0.04 * frame["tenure_months"]
        + 0.02 * frame["monthly_charges"]
        + 0.5 * frame["support_calls"]
        - 0.6 * frame["autopay"]
        + frame["plan"].map({"basic": 0.4, "plus": 0.0, "pro": -0.4})
    )
    label = (logit + rng.normal(0, 0.5, rows) > 0).astype(int)
    return frame, label


def _train(frame: Any, label: Any, c: float) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    features = ColumnTransformer(
        [
            ("categorical", OneHotEncoder(handle_unknown="ignore"), ["plan", "region"]),
            ("numeric", StandardScaler(), ["tenure_months", "monthly_charges", "support_calls", "usage_gb"]),
            ("flag", "passthrough", ["autopay"]),
        ]
    )
    return Pipeline([("features", features), ("classifier", LogisticRegression(C=c, max_iter=500))]).fit(
        frame, label
    )


@dataclass(frozen=True)
class ChurnStore:
    tracking_uri: str
    dataset_csv: str

    def commit_dataset(self, repo: Path) -> None:
        """Write the evaluation dataset into the repository, pin it in the gate, and commit both."""
        target = repo / DATASET
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.dataset_csv)
        gate = repo / "gates" / "churn.yaml"
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        gate.write_text(re.sub(r"sha256: [0-9a-f]{64}", f"sha256: {digest}", gate.read_text(), count=1))
        git(repo, "add", DATASET, "gates/churn.yaml")
        git(repo, "commit", "-q", "-m", "evaluation dataset")


def churn_store(directory: Path, *, third: bool = False) -> ChurnStore:
    """Register churn v1 and a slightly better v2 (more training data) in a sqlite store in `directory`;
    with `third`, a v3 as good as v2 (other training rows), to run beside it as a challenger."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    directory.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{directory.resolve() / 'mlflow.db'}"
    store = Registry(uri)
    experiment = store.client.create_experiment(
        "churn-training", artifact_location=(directory / "artifacts").resolve().as_uri()
    )
    for rows, c, seed in ((300, 0.05, 300), (3000, 1.0, 3000), *(((3000, 1.0, 7),) if third else ())):
        frame, label = churn_frame(rows, seed=seed)
        model = _train(frame, label, c)
        with store.fluent(), mlflow.start_run(experiment_id=experiment):
            mlflow.sklearn.log_model(
                model,
                name="model",
                signature=infer_signature(frame, model.predict(frame)),
                registered_model_name="churn",
            )
    test_frame, test_label = churn_frame(4000, seed=99)
    test_frame["churned"] = test_label
    return ChurnStore(uri, test_frame.to_csv(index=False))

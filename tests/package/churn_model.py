"""A real, small scikit-learn churn classifier registered in a real MLflow store (test setup)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cd.config.model import Column, ModelSpec

INPUTS = (
    Column("tenure_months", "integer"),
    Column("monthly_charges", "number"),
    Column("support_calls", "integer"),
    Column("usage_gb", "number"),
    Column("plan", "string"),
    Column("region", "string"),
    Column("autopay", "boolean"),
)


def churn_spec(name: str = "churn", inputs: tuple[Column, ...] = INPUTS) -> ModelSpec:
    return ModelSpec(
        name=name,
        registered_model=name,
        task="binary_classification",
        inputs=inputs,
        owners=("@ml-team",),
        description="Test churn classifier.",
        path=f"models/{name}/model.yaml",
    )


def churn_frame(rows: int, seed: int) -> Any:
    """Synthetic account rows with the model.yaml columns and their pandas dtypes."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure_months": rng.integers(0, 72, rows).astype("int64"),
            "monthly_charges": rng.uniform(10, 120, rows).round(2),
            "support_calls": rng.poisson(1.5, rows).astype("int64"),
            "usage_gb": rng.gamma(2.0, 20.0, rows).round(3),
            "plan": pd.Series(rng.choice(["basic", "plus", "pro"], rows), dtype=object),
            "region": pd.Series(rng.choice(["north", "south", "east", "west"], rows), dtype=object),
            "autopay": rng.random(rows) < 0.5,
        }
    )


def model_requirements() -> list[str]:
    """What the model declares (as `mlflow.sklearn.log_model` would infer, without its slow child
    process): pinned packages, and one bare name (`scipy`) that the build must pin itself."""
    from importlib.metadata import version

    pinned = ["mlflow", "scikit-learn", "numpy", "pandas", "skops"]
    return [f"{package}=={version(package)}" for package in pinned] + ["scipy"]


def register_churn_model(tracking_uri: str, name: str = "churn") -> int:
    """Train a pipeline on synthetic data, log it with a signature, register it; the new version."""
    import mlflow
    import mlflow.sklearn
    import numpy as np
    from mlflow.models import infer_signature
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from cd.registry import Registry

    frame = churn_frame(400, seed=7)
    logit = (
        -0.04 * frame["tenure_months"]
        + 0.02 * frame["monthly_charges"]
        + 0.5 * frame["support_calls"]
        - 0.6 * frame["autopay"]
        + frame["plan"].map({"basic": 0.4, "plus": 0.0, "pro": -0.4})
    )
    label = (logit + np.random.default_rng(1).normal(0, 0.5, len(frame)) > 0).astype(int)
    model = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [
                        ("categorical", OneHotEncoder(handle_unknown="ignore"), ["plan", "region"]),
                        (
                            "numeric",
                            StandardScaler(),
                            ["tenure_months", "monthly_charges", "support_calls", "usage_gb"],
                        ),
                        ("flag", "passthrough", ["autopay"]),
                    ]
                ),
            ),
            ("classifier", LogisticRegression(max_iter=500)),
        ]
    ).fit(frame, label)
    registry = Registry(tracking_uri)
    experiment_id = registry.ensure_experiment(f"{name}-training")
    with registry.fluent(), mlflow.start_run(experiment_id=experiment_id):
        mlflow.log_param("max_iter", 500)
        mlflow.log_metric("train_accuracy", float(model.score(frame, label)))
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(frame, model.predict(frame)),
            registered_model_name=name,
            pip_requirements=model_requirements(),
        )
    return int(info.registered_model_version)


def tracking_uri_in(directory: Path) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory.resolve() / 'mlflow.db'}"


def register_in_subprocess(tracking_uri: str, name: str = "churn") -> int:
    """Register in a child process: MLflow's process-wide tracking URI stays untouched here."""
    import subprocess
    import sys

    from tests.helpers import PROJECT_ROOT

    done = subprocess.run(
        [sys.executable, "-m", "tests.package.churn_model", tracking_uri, name],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"registering {name} failed:\n{done.stderr[-3000:]}")
    return int(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    import sys

    print(register_churn_model(sys.argv[1], sys.argv[2]))

"""The example `churn` model: a deterministic synthetic dataset and four registered versions.

Data. `generate(n, seed)` draws customers from PCG64's raw 64-bit stream (the one numpy part whose
output is guaranteed stable across versions) and our own transforms, then rounds every number, so
the CSV bytes are reproducible (a test regenerates them and checks `TEST_SHA256`). That is why
`data/churn_test.csv` is not committed: it is generated (`python models/churn/train.py`), and a gate
can pin `sha256: TEST_SHA256` so a changed file refuses to evaluate (the gate tests do).

Churn is driven by short tenure, high charges, support calls and no autopay; for `plan=premium`
customers it is driven mostly by low usage (`usage_gb < 40`), an interaction a model has to learn.

Versions registered by `register_versions` (in this order, so 1..4 in a fresh registry):
- v1 `baseline`: logistic regression on tenure, charges and autopay only.
- v2 `better`: logistic regression on every input, with plan x usage-bin interactions.
- v3 `worse_on_premium`: learns the early-tenure churn spike v2 misses (better on basic and
  standard) but is trained with usage shuffled among premium customers, so it never learns what
  drives premium churn: about as good overall, clearly worse on `plan=premium`.
- v4 `serving_fault`: v2's model behind a feature step that fails on small online batches with many
  support calls (`cd/examples/modelcd_demo_fault.py`, shipped inside the model): identical predictions to v2 offline, so it passes any
  gate v2 passes, but about 14% of single-row serving requests fail: the demo's automatic rollback. Its
  version carries the tag `modelcd.demo.serving_fault=true` (and the run param `serving_fault=true`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cd.files import write_atomic

if TYPE_CHECKING:
    import pandas as pd

MODEL_NAME = "churn"
LABEL = "churned"
NUMERIC = ("tenure_months", "monthly_charges", "support_calls", "usage_gb")
CATEGORICAL = ("plan", "region")
FEATURES = ("tenure_months", "monthly_charges", "support_calls", "usage_gb", "plan", "region", "autopay")
PLANS = ("basic", "standard", "premium")
REGIONS = ("north", "south", "east", "west")
TRAIN_ROWS, TEST_ROWS = 6000, 8000
TRAIN_SEED, TEST_SEED = 20240601, 20240602
TRAIN_PATH, TEST_PATH = "data/churn_train.csv", "data/churn_test.csv"
# sha256 of data/churn_test.csv as generated (reproducible: pin it in gates/churn.yaml).
TEST_SHA256 = "29f921def144b7c820286d127abf618725cf8dd2154824037e0fef2af82588bf"
SERVING_FAULT_TAG = "modelcd.demo.serving_fault"
ROLES = ("baseline", "better", "worse_on_premium", "serving_fault")


def _uniforms(seed: int, count: int) -> np.ndarray:
    raw = np.random.PCG64(seed).random_raw(count)
    return (raw >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def generate(n: int, seed: int) -> pd.DataFrame:
    """n customers with the label `churned`, a pure function of (n, seed)."""
    import pandas as pd

    u = _uniforms(seed, n * 8).reshape(8, n)
    plan_idx = np.searchsorted(np.array([0.52, 0.94]), u[0], side="right")
    plan = np.asarray(PLANS)[plan_idx]
    region = np.asarray(REGIONS)[np.minimum((u[1] * 4).astype(int), 3)]
    tenure = 1 + np.minimum((u[2] * 72).astype(int), 71)
    base_charge = np.array([20.0, 45.0, 75.0])[plan_idx]
    charge_span = np.array([30.0, 35.0, 45.0])[plan_idx]
    charges = np.round(base_charge + charge_span * u[3], 2)
    calls = np.minimum(np.floor(-np.log1p(-u[4]) * 2.0), 9).astype(int)
    usage = np.round(np.array([60.0, 120.0, 160.0])[plan_idx] * u[5], 1)
    autopay = u[6] < 0.55

    general = (
        -0.2
        - 0.07 * (tenure - 24)
        + 0.05 * (charges - 55)
        + 0.9 * (calls - 1.5)
        - 1.4 * autopay
        + 3.0 * (tenure <= 8)
        + np.where(region == "south", 0.3, 0.0)
    )
    premium = -0.5 + 2.2 * np.where(usage < 40, 1.0, -1.0) - 0.02 * (tenure - 24)
    logit = np.where(plan == "premium", premium, general)
    churned = u[7] < 1.0 / (1.0 + np.exp(-logit))
    return pd.DataFrame(
        {
            "tenure_months": tenure,
            "monthly_charges": charges,
            "support_calls": calls,
            "usage_gb": usage,
            "plan": plan,
            "region": region,
            "autopay": autopay,
            LABEL: churned.astype(int),
        }
    )


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """Fixed formatting (numbers to 2 decimals, booleans as true/false): byte-reproducible."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(frame.columns)
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            if isinstance(value, (bool, np.bool_)):
                cells.append("true" if value else "false")
            elif isinstance(value, (float, np.floating)):
                cells.append(f"{value:.2f}")
            else:
                cells.append(str(value))
        writer.writerow(cells)
    return out.getvalue().encode()


@dataclass(frozen=True)
class Datasets:
    train: pd.DataFrame
    test: pd.DataFrame
    test_sha256: str


def write_datasets(root: Path) -> Datasets:
    """Write data/churn_train.csv and data/churn_test.csv under `root` (deterministic bytes)."""
    import pandas as pd

    frames = {}
    digest = ""
    for rel, n, seed in ((TRAIN_PATH, TRAIN_ROWS, TRAIN_SEED), (TEST_PATH, TEST_ROWS, TEST_SEED)):
        data = to_csv_bytes(generate(n, seed))
        write_atomic(root / rel, data)
        frames[rel] = pd.read_csv(io.BytesIO(data))
        digest = hashlib.sha256(data).hexdigest()
    return Datasets(frames[TRAIN_PATH], frames[TEST_PATH], digest)


# ---------------------------------------------------------------------------------------- training


def _pipeline(estimator: Any, numeric: tuple[str, ...]) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline(
        [
            ("features", ColumnTransformer([("numeric", StandardScaler(), list(numeric))])),
            ("model", estimator),
        ]
    )


def _interactions(tenure_bins: bool = False) -> Any:
    """Logistic regression that can learn per-plan effects of usage (plan one-hot x usage bins),
    and with `tenure_bins` the early-tenure churn spike a linear tenure term misses."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import KBinsDiscretizer, OneHotEncoder, PolynomialFeatures, StandardScaler

    plan_usage = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [
                        ("plan", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["plan"]),
                        (
                            "usage",
                            KBinsDiscretizer(n_bins=8, encode="onehot-dense", strategy="uniform"),
                            ["usage_gb"],
                        ),
                    ]
                ),
            ),
            ("cross", PolynomialFeatures(degree=2, interaction_only=True, include_bias=False)),
        ]
    )
    features = ColumnTransformer(
        [
            ("numeric", StandardScaler(), ["tenure_months", "monthly_charges", "support_calls", "autopay"]),
            ("region", OneHotEncoder(handle_unknown="ignore"), ["region"]),
            ("plan_usage", plan_usage, ["plan", "usage_gb"]),
        ]
        + (
            [
                (
                    "tenure_bins",
                    KBinsDiscretizer(n_bins=12, encode="onehot-dense", strategy="uniform"),
                    ["tenure_months"],
                )
            ]
            if tenure_bins
            else []
        )
    )
    return Pipeline([("features", features), ("model", LogisticRegression(C=1.0, max_iter=2000))])


def train_versions(train: pd.DataFrame) -> dict[str, Any]:
    """The four example models, keyed by role (see the module docstring). Deterministic."""
    from sklearn.linear_model import LogisticRegression

    x, y = train[list(FEATURES)], train[LABEL]
    baseline = _pipeline(LogisticRegression(max_iter=1000), ("tenure_months", "monthly_charges", "autopay"))
    shuffled = x.copy()
    premium = np.flatnonzero((x["plan"] == "premium").to_numpy())
    order = np.random.Generator(np.random.PCG64(7)).permutation(premium)
    shuffled.iloc[premium, shuffled.columns.get_loc("usage_gb")] = x["usage_gb"].to_numpy()[order]
    return {
        "baseline": baseline.fit(x, y),
        "better": _interactions().fit(x, y),
        "worse_on_premium": _interactions(tenure_bins=True).fit(shuffled, y),
        "serving_fault": _with_online_fault(_interactions()).fit(x, y),
    }


FAULT_FILE = Path(__file__).with_name("modelcd_demo_fault.py")
FAULT_MODULE = "modelcd_demo_fault"


def fault_module() -> Any:
    """`modelcd_demo_fault`, imported under its top-level name: the name v4's pickled pipeline refers
    to, and the module its MLflow model ships (`code_paths`)."""
    import importlib.util
    import sys

    if FAULT_MODULE not in sys.modules:
        spec = importlib.util.spec_from_file_location(FAULT_MODULE, FAULT_FILE)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[FAULT_MODULE] = module
        spec.loader.exec_module(module)
    return sys.modules[FAULT_MODULE]


def _with_online_fault(model: Any) -> Any:
    """v2's model behind a feature step that fails on small online batches (see modelcd_demo_fault.py)."""
    from sklearn.pipeline import Pipeline

    return Pipeline([("online_features", fault_module().OnlineBatchFault()), ("model", model)])


def register_versions(
    tracking_uri: str,
    models: Mapping[str, Any],
    example: pd.DataFrame,
    name: str = MODEL_NAME,
    roles: tuple[str, ...] = ROLES,
    reference: pd.DataFrame | None = None,
) -> dict[str, int]:
    """Log and register each model (in `roles` order) as a new version of `name`: role -> version. With
    `reference` (the training inputs), each version records it for `modelcd monitor` (`cd.monitor.run`)."""
    import pandas as pd
    import sklearn

    from cd.registry import Registry

    registry = Registry(tracking_uri)
    experiment = registry.ensure_experiment(name)
    x = example[list(FEATURES)].head(20)
    versions: dict[str, int] = {}
    requirements = [
        f"scikit-learn=={sklearn.__version__}",
        f"numpy=={np.__version__}",
        f"pandas=={pd.__version__}",
    ]
    with registry.fluent():
        for role in roles:
            version = _log_and_register(models[role], name, role, experiment, x, requirements)
            if reference is not None:
                _record_reference(registry, name, version, reference)
            if role == "serving_fault":
                registry.client.set_model_version_tag(name, str(version), SERVING_FAULT_TAG, "true")
            versions[role] = version
    return versions


def _log_and_register(
    model: Any, name: str, role: str, experiment: str, x: pd.DataFrame, requirements: list[str]
) -> int:
    """One run logging `model`, registered as a new version of `name` in the active fluent store."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    with (
        mlflow.start_run(experiment_id=experiment, run_name=f"{name}-{role}"),
        warnings.catch_warnings(),
    ):
        warnings.filterwarnings("ignore", message=".*Integer columns.*", category=UserWarning)
        mlflow.log_params({"role": role, "serving_fault": str(role == "serving_fault").lower()})
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=name,
            signature=infer_signature(x, model.predict_proba(x)),
            input_example=x[x["support_calls"] < 4].head(3),  # a batch v4 answers too
            pip_requirements=requirements,  # skips MLflow's slow requirement inference
            pyfunc_predict_fn="predict_proba",
            skops_trusted_types=["numpy.dtype", f"{FAULT_MODULE}.OnlineBatchFault"],
            code_paths=[str(FAULT_FILE)] if role == "serving_fault" else None,
        )
    return int(info.registered_model_version)


def _record_reference(registry: Any, name: str, version: int, reference: pd.DataFrame) -> None:
    """Log the training inputs with the version's run and tag the version with where they are
    (`modelcd.reference`) and their sha256 (`modelcd.reference.sha256`)."""
    import tempfile

    import mlflow

    from cd.monitor.run import REFERENCE_SHA256_TAG, REFERENCE_TAG

    mv = registry.client.get_model_version(name, str(version))
    data = reference[list(FEATURES)].to_csv(index=False).encode()
    with tempfile.TemporaryDirectory(prefix="modelcd-reference-") as tmp:
        path = Path(tmp) / "train.csv"
        path.write_bytes(data)
        mlflow.MlflowClient().log_artifact(mv.run_id, str(path), "reference")
    registry.client.set_model_version_tag(
        name, str(version), REFERENCE_TAG, f"runs:/{mv.run_id}/reference/train.csv"
    )
    registry.client.set_model_version_tag(
        name, str(version), REFERENCE_SHA256_TAG, hashlib.sha256(data).hexdigest()
    )


def train_and_register(root: Path, tracking_uri: str) -> dict[str, int]:
    """Write the datasets under `root`, train the four versions, register them (each with its training
    inputs as the monitor's reference): role -> version."""
    data = write_datasets(root)
    return register_versions(tracking_uri, train_versions(data.train), data.test, reference=data.train)


def describe(versions: Mapping[str, int]) -> str:
    return "\n".join(f"{MODEL_NAME} v{v}: {role}" for role, v in versions.items())

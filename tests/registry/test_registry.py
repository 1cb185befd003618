"""The MLflow registry adapter against a real sqlite-backed MLflow store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cd.errors import RegistryError
from cd.registry import Registry, default_tracking_uri, model_sha256


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    import mlflow
    import mlflow.sklearn
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("mlflow")
    reg = Registry(f"sqlite:///{root / 'mlflow.db'}")
    experiment = reg.ensure_experiment("registry-tests")
    rng = np.random.default_rng(0)
    x = rng.random((40, 2))
    y = (x[:, 0] > 0.5).astype(int)
    for c in (1.0, 0.1):
        with reg.fluent(), mlflow.start_run(experiment_id=experiment):
            mlflow.log_param("C", c)
            mlflow.log_metric("train_auc", 0.9)
            mlflow.sklearn.log_model(
                LogisticRegression(C=c).fit(x, y), name="model", registered_model_name="churn"
            )
    return reg


def test_default_tracking_uri_is_a_sqlite_store_in_the_repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert default_tracking_uri(tmp_path) == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"


def test_tracking_uri_from_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert default_tracking_uri(tmp_path) == "http://127.0.0.1:5000"


def test_resolve_returns_run_params_metrics_and_artifact_hash(registry: Registry) -> None:
    ref = registry.resolve("churn", 2)
    assert (ref.name, ref.version, ref.params, ref.metrics) == ("churn", 2, {"C": "0.1"}, {"train_auc": 0.9})
    assert len(ref.sha256) == 64
    assert ref.uri == "models:/churn/2"


def test_versions_have_different_hashes(registry: Registry) -> None:
    assert registry.resolve("churn", 1).sha256 != registry.resolve("churn", 2).sha256


def test_missing_version_is_a_clear_error(registry: Registry) -> None:
    with pytest.raises(
        RegistryError, match=r"^model 'churn' version 9: not found in the MLflow registry at sqlite"
    ):
        registry.resolve("churn", 9)


def test_missing_model_is_a_clear_error(registry: Registry) -> None:
    with pytest.raises(RegistryError, match=r"^registered model 'fraud': not found in the MLflow registry"):
        registry.resolve("fraud", 1)


def test_unreachable_server_is_a_clear_error() -> None:
    with pytest.raises(RegistryError, match=r"^MLflow server http://127.0.0.1:9 is unreachable"):
        Registry("http://127.0.0.1:9").resolve("churn", 1)


def test_download_verifies_the_judged_hash(registry: Registry, tmp_path: Path) -> None:
    ref = registry.resolve("churn", 1)
    out = registry.download("churn", 1, tmp_path / "model", expected_sha256=ref.sha256)
    assert (out / "MLmodel").is_file()
    assert model_sha256(out) == ref.sha256


def test_download_refuses_artifacts_that_changed_since_judged(registry: Registry, tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="artifacts changed since they were judged"):
        registry.download("churn", 1, tmp_path / "model", expected_sha256="0" * 64)
    assert not (tmp_path / "model").exists()


def test_alias_mirrors_git(registry: Registry) -> None:
    assert registry.get_alias("churn", "staging") is None
    registry.set_alias("churn", "staging", 2)
    assert registry.get_alias("churn", "staging") == 2


def test_loaded_pyfunc_predicts(registry: Registry) -> None:
    import pandas as pd

    model = registry.load_pyfunc("churn", 1)
    assert len(model.predict(pd.DataFrame({"0": [0.1, 0.9], "1": [0.5, 0.5]}).to_numpy())) == 2


def test_fluent_points_both_process_wide_uris_at_the_store_and_restores_them(tmp_path: Path) -> None:
    import mlflow

    outer, inner = Registry(f"sqlite:///{tmp_path / 'a.db'}"), Registry(f"sqlite:///{tmp_path / 'b.db'}")
    with outer.fluent():
        with inner.fluent():
            assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == (inner.tracking_uri,) * 2
        assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == (outer.tracking_uri,) * 2
        assert os.environ["MLFLOW_REGISTRY_URI"] == outer.tracking_uri


def test_registering_through_fluent_ignores_a_registry_uri_left_in_the_environment(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow
    import mlflow.sklearn
    from sklearn.dummy import DummyClassifier

    elsewhere = Registry(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", elsewhere.tracking_uri)
    experiment = registry.ensure_experiment("registry-tests")
    with registry.fluent(), mlflow.start_run(experiment_id=experiment):
        info = mlflow.sklearn.log_model(
            DummyClassifier().fit([[0], [1]], [0, 1]), name="model", registered_model_name="fluent-check"
        )
    assert registry.resolve("fluent-check", int(info.registered_model_version)).version == 1
    assert elsewhere.client.search_registered_models(filter_string="name = 'fluent-check'") == []
    assert os.environ["MLFLOW_REGISTRY_URI"] == elsewhere.tracking_uri


def test_loading_a_version_through_a_models_uri_does_not_change_its_hash(registry: Registry) -> None:
    import mlflow.pyfunc

    before = registry.resolve("churn", 2).sha256
    with registry.fluent():
        mlflow.pyfunc.load_model("models:/churn/2")  # MLflow writes registered_model_meta beside it
    assert registry.resolve("churn", 2).sha256 == before

"""The demo's v4: identical to v2 offline, failing part of online (small-batch) traffic."""

from __future__ import annotations

import numpy as np
import pytest

from cd.examples.churn import TEST_ROWS, TEST_SEED, TRAIN_ROWS, TRAIN_SEED, generate, train_versions


@pytest.fixture(scope="module")
def models() -> dict[str, object]:
    return train_versions(generate(TRAIN_ROWS, TRAIN_SEED))


@pytest.fixture(scope="module")
def test_set():  # type: ignore[no-untyped-def]
    return generate(TEST_ROWS, TEST_SEED)


def test_offline_batch_predictions_equal_v2(models, test_set) -> None:  # type: ignore[no-untyped-def]
    x = test_set.drop(columns=["churned"])
    np.testing.assert_array_equal(models["serving_fault"].predict_proba(x), models["better"].predict_proba(x))


def test_single_row_with_many_support_calls_fails(models, test_set) -> None:  # type: ignore[no-untyped-def]
    row = test_set[test_set["support_calls"] >= 4].drop(columns=["churned"]).head(1)
    with pytest.raises(ValueError, match="support_calls >= 4 in an online batch"):
        models["serving_fault"].predict_proba(row)


def test_single_row_with_few_support_calls_is_answered(models, test_set) -> None:  # type: ignore[no-untyped-def]
    row = test_set[test_set["support_calls"] < 4].drop(columns=["churned"]).head(1)
    np.testing.assert_array_equal(
        models["serving_fault"].predict_proba(row), models["better"].predict_proba(row)
    )


def test_about_one_in_seven_online_requests_fail(test_set) -> None:  # type: ignore[no-untyped-def]
    assert (test_set["support_calls"] >= 4).mean() == pytest.approx(0.1375)


def test_v4_ships_its_fault_code_and_loads_where_modelcd_is_not_installed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    from cd.examples import churn
    from cd.registry import Registry

    data = churn.write_datasets(tmp_path / "data")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    models = {"serving_fault": churn.train_versions(data.train)["serving_fault"]}
    versions = churn.register_versions(uri, models, data.test, roles=("serving_fault",))
    model_dir = Registry(uri).download("churn", versions["serving_fault"], tmp_path / "v4")
    assert (model_dir / "code" / "modelcd_demo_fault.py").is_file()
    script = (
        "import sys; sys.modules['cd'] = None  # modelcd is not importable here\n"
        "import mlflow.pyfunc, pandas as pd\n"
        f"model = mlflow.pyfunc.load_model({str(model_dir)!r})\n"
        f"rows = pd.read_csv({str(tmp_path / 'data' / churn.TEST_PATH)!r}).drop(columns=['churned'])\n"
        "print(len(model.predict(rows[rows['support_calls'] < 4].head(3))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3"

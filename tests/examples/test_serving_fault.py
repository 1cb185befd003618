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

"""The identity chain's checks, table-tested: what release and deploy refuse, naming both sides."""

from __future__ import annotations

from typing import Any

import pytest

from cd.custody import Identity, build_matches_verdict, build_record_problems, verdict_problems

WANTED = Identity("churn", "churn", 2)
SHA_MODEL = "a" * 64
SHA_BENTO = "b" * 64
RECORD: dict[str, Any] = {
    "model": "churn",
    "registered_model": "churn",
    "version": 2,
    "bento_sha256": SHA_BENTO,
    "model_sha256": SHA_MODEL,
}
VERDICT: dict[str, Any] = {
    "verdict": "pass",
    "environment": "staging",
    "model": "churn",
    "candidate": {"name": "churn", "version": 2, "sha256": SHA_MODEL},
}


def test_a_matching_build_record_has_no_problems() -> None:
    assert build_record_problems(RECORD, WANTED, "r") == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"version": 4}, "r: version is 4, but git wants 2"),
        ({"registered_model": "churn-other"}, "r: registered_model is 'churn-other', but git wants 'churn'"),
        ({"bento_sha256": "0" * 64}, f"r: bento_sha256 '{'0' * 64}' is not a content sha256"),
        ({"model_sha256": ""}, "r: model_sha256 '' is not a content sha256"),
    ],
    ids=["another version", "another registered model", "zeroed bento hash", "no model hash"],
)
def test_a_build_record_of_another_identity_is_refused(change: dict[str, Any], problem: str) -> None:
    assert build_record_problems({**RECORD, **change}, WANTED, "r") == [problem]


def test_a_passing_verdict_for_this_identity_has_no_problems() -> None:
    assert verdict_problems(VERDICT, WANTED, "staging", "v") == []


@pytest.mark.parametrize(
    ("change", "environment", "problem"),
    [
        ({"model": "fraud"}, "staging", "v: the verdict judged model 'fraud', not 'churn'"),
        (
            {"candidate": {"name": "churn", "version": 3}},
            "staging",
            "v: the verdict judged version 3, not 2",
        ),
        ({}, "production", "v: the verdict is for environment 'staging', not 'production'"),
        (
            {"verdict": "inconclusive"},
            "staging",
            "v: the gate verdict is INCONCLUSIVE; a release needs a passing gate or a recorded override "
            "(`/modelcd override <reason>` on the pull request)",
        ),
    ],
    ids=["another model", "another version", "another environment", "inconclusive"],
)
def test_a_verdict_release_must_not_use_is_refused(
    change: dict[str, Any], environment: str, problem: str
) -> None:
    assert verdict_problems({**VERDICT, **change}, WANTED, environment, "v") == [problem]


def test_a_failed_verdict_with_a_recorded_override_may_be_released() -> None:
    overridden = {**VERDICT, "verdict": "fail", "override": {"by": "lee", "reason": "label noise"}}
    assert verdict_problems(overridden, WANTED, "staging", "v") == []


def test_a_build_of_another_model_than_the_judged_one_is_refused() -> None:
    (problem,) = build_matches_verdict({**RECORD, "model_sha256": "c" * 64}, VERDICT, "r")
    assert (
        problem
        == "r: the build packaged model sha256 cccccccccccc…, but the gate judged aaaaaaaaaaaa…: not the model that passed"
    )

"""environments/<env>.yaml: every schema rule rejects bad input with file, line and key."""

from __future__ import annotations

from collections.abc import Callable

Edit = Callable[[str, str, str], list[str]]
STAGING = "environments/staging.yaml"


def test_unknown_key_is_refused_with_the_allowed_keys(problems_after: Edit) -> None:
    assert problems_after(STAGING, "    version: 1\n", "    version: 1\n    versoin: 2\n") == [
        f"{STAGING}:36: models.churn.versoin: unknown key 'versoin'; allowed keys: challengers, serving, version"
    ]


def test_missing_version_is_refused(problems_after: Edit) -> None:
    assert problems_after(STAGING, "    version: 1\n", "") == [
        f"{STAGING}:34: models.churn: missing required key 'version'"
    ]


def test_version_must_be_an_integer(problems_after: Edit) -> None:
    assert problems_after(STAGING, "    version: 1", "    version: three") == [
        f"{STAGING}:35: models.churn.version: expected an integer, got a string ('three')"
    ]


def test_version_must_be_positive(problems_after: Edit) -> None:
    assert problems_after(STAGING, "    version: 1", "    version: 0") == [
        f"{STAGING}:35: models.churn.version: 0 is less than the minimum of 1"
    ]


def test_name_must_match_the_file(problems_after: Edit) -> None:
    assert problems_after(STAGING, "name: staging", "name: stage") == [
        f"{STAGING}:2: name: is 'stage' but the file is staging.yaml; they must match"
    ]


def test_unknown_target_kind_is_refused(problems_after: Edit) -> None:
    assert problems_after(STAGING, "kind: sagemaker", "kind: kubernetes") == [
        f"{STAGING}:4: target.kind: must be one of sagemaker, local; got a string ('kubernetes')"
    ]


def test_sagemaker_target_needs_its_keys(problems_after: Edit) -> None:
    assert problems_after(STAGING, "  region: eu-west-1\n", "") == [
        f"{STAGING}:3: target: missing required key 'region'"
    ]


def test_role_arn_must_be_an_iam_role(problems_after: Edit) -> None:
    (problem,) = problems_after(STAGING, "role/modelcd-sagemaker-execution", "user/someone")
    assert problem.startswith(
        f"{STAGING}:6: target.role_arn: invalid value 'arn:aws:iam::123456789012:user/someone': "
        "an IAM role ARN such as arn:aws:iam::123456789012:role/name"
    )


def test_step_with_two_kinds_is_refused(problems_after: Edit) -> None:
    assert problems_after(STAGING, "    - set_weight: 10\n", "    - {set_weight: 10, bake: 1m}\n") == [
        f"{STAGING}:13: rollout.steps[1]: each step must have exactly one of set_weight, bake, shadow, analysis"
    ]


def test_weight_over_100_is_refused(problems_after: Edit) -> None:
    assert problems_after(STAGING, "set_weight: 10", "set_weight: 110") == [
        f"{STAGING}:13: rollout.steps[1].set_weight: 110 is greater than the maximum of 100"
    ]


def test_malformed_duration_is_refused(problems_after: Edit) -> None:
    (problem,) = problems_after(STAGING, "bake: 5m", "bake: five minutes")
    assert problem.startswith(
        f"{STAGING}:14: rollout.steps[2].bake: invalid value 'five minutes': a duration such as 30s, 10m, 1h or 1h30m"
    )


def test_unknown_analysis_key_is_refused(problems_after: Edit) -> None:
    (problem,) = problems_after(STAGING, "    min_requests: 200", "    min_request: 200")
    assert problem.startswith(f"{STAGING}:23: rollout.analysis.min_request: unknown key 'min_request'")


def test_error_rate_must_be_a_fraction(problems_after: Edit) -> None:
    assert problems_after(STAGING, "max_error_rate: 0.01", "max_error_rate: 5") == [
        f"{STAGING}:24: rollout.analysis.max_error_rate: 5 is greater than the maximum of 1"
    ]


def test_invalid_model_name_is_refused(problems_after: Edit) -> None:
    (problem,) = problems_after(STAGING, "  churn:\n", "  Churn_Model:\n")
    assert problem.startswith(
        f"{STAGING}:34: models.Churn_Model: invalid name 'Churn_Model': lowercase letters"
    )


def test_instance_type_must_be_a_sagemaker_type(problems_after: Edit) -> None:
    (problem,) = problems_after(STAGING, "instance_type: ml.m5.large", "instance_type: m5.large")
    assert problem.startswith(f"{STAGING}:37: models.churn.serving.instance_type: invalid value 'm5.large'")


def test_every_problem_is_listed_not_just_the_first(tree: object) -> None:
    from tests.config.conftest import TemplateTree

    assert isinstance(tree, TemplateTree)
    tree.replace(STAGING, "    version: 1", "    version: -1")
    tree.replace(STAGING, "set_weight: 10", "set_weight: 101")
    tree.replace(STAGING, "max_latency_ratio: 1.5", "max_latency_ratio: fast")
    assert len(tree.problems()) == 3

"""Rules that span files: references, rollout steps, endpoint names, promotion chains, gate vs model."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.config.conftest import TemplateTree

Edit = Callable[[str, str, str], list[str]]
STAGING = "environments/staging.yaml"
PRODUCTION = "environments/production.yaml"


def test_template_is_valid(tree: TemplateTree) -> None:
    from cd.config import load_repo

    config = load_repo(tree.root)
    assert sorted(config.environments) == ["production", "staging"]
    assert config.environments["production"].promote_from == "staging"


def test_model_without_model_yaml_is_refused(tree: TemplateTree) -> None:
    tree.replace(STAGING, "models:\n", "models:\n  fraud:\n    version: 1\n")
    assert tree.problems() == [
        f"{STAGING}:34: models.fraud: model 'fraud' has no gate: add gates/fraud.yaml",
        f"{STAGING}:34: models.fraud: model 'fraud' has no models/fraud/model.yaml",
    ]


def test_weights_must_strictly_increase(problems_after: Edit) -> None:
    assert problems_after(STAGING, "set_weight: 50", "set_weight: 10") == [
        f"{STAGING}:16: rollout.steps[4].set_weight: weights must strictly increase: 10 follows 10"
    ]


def test_last_weight_must_be_100(problems_after: Edit) -> None:
    assert problems_after(STAGING, "set_weight: 100", "set_weight: 90") == [
        f"{STAGING}:19: rollout.steps[7].set_weight: the last set_weight must be 100, not 90"
    ]


def test_rollout_needs_a_weight_step(tree: TemplateTree) -> None:
    for weight in ("10", "50", "100"):
        tree.replace(STAGING, f"    - set_weight: {weight}\n", "")
    assert tree.problems() == [
        f"{STAGING}:11: rollout.steps: needs at least one set_weight step, the last one set_weight: 100"
    ]


def test_blue_green_takes_a_single_full_step(problems_after: Edit) -> None:
    assert problems_after(STAGING, "strategy: canary", "strategy: blue_green") == [
        f"{STAGING}:11: rollout.steps: blue_green takes a single set_weight: 100 step"
    ]


def test_two_environments_never_share_an_endpoint(problems_after: Edit) -> None:
    assert problems_after(
        PRODUCTION, "endpoint_prefix: modelcd-production", "endpoint_prefix: modelcd-staging"
    ) == [
        f"{STAGING}:8: target.endpoint_prefix: environment 'production' ({PRODUCTION}) already targets endpoint "
        "prefix 'modelcd-staging'; two environments never share endpoints",
        f"{STAGING}:34: models.churn: endpoint 'modelcd-staging-churn' is also the endpoint of model 'churn' in "
        "environment 'production'",
    ]


def test_endpoint_name_must_fit_sagemaker_length(tree: TemplateTree) -> None:
    tree.replace(STAGING, "  churn:\n", "  churn-" + "x" * 34 + ":\n")
    tree.replace(STAGING, "endpoint_prefix: modelcd-staging", "endpoint_prefix: modelcd-staging-" + "y" * 10)
    model = "churn-" + "x" * 34
    endpoint = "modelcd-staging-" + "y" * 10 + "-" + model
    assert (
        f"{STAGING}:34: models.{model}: endpoint name {endpoint!r} ({len(endpoint)} characters) breaks SageMaker's "
        "rule: letters, digits and hyphens, at most 63 characters; shorten target.endpoint_prefix or the model name"
        in tree.problems()
    )


def test_promote_from_must_name_an_environment(problems_after: Edit) -> None:
    assert problems_after(PRODUCTION, "promote_from: staging", "promote_from: qa") == [
        f"{PRODUCTION}:3: promote_from: unknown environment 'qa' (known: production, staging)"
    ]


def test_promote_from_cannot_be_itself(problems_after: Edit) -> None:
    assert problems_after(PRODUCTION, "promote_from: staging", "promote_from: production") == [
        f"{PRODUCTION}:3: promote_from: an environment cannot promote from itself"
    ]


def test_promote_from_cycle_is_refused(tree: TemplateTree) -> None:
    tree.replace(STAGING, "name: staging\n", "name: staging\npromote_from: production\n")
    assert tree.problems() == [
        f"{PRODUCTION}:3: promote_from: promotion cycle: production -> staging -> production",
        f"{STAGING}:3: promote_from: promotion cycle: staging -> production -> staging",
    ]


def test_gate_metric_must_suit_the_task(problems_after: Edit) -> None:
    (problem,) = problems_after("gates/churn.yaml", "metric: pr_auc", "metric: rmse")
    assert problem.startswith(
        "gates/churn.yaml:10: metrics[1].metric: metric 'rmse' does not apply to a binary_classification model"
    )


def test_gate_slice_reference_must_be_declared(problems_after: Edit) -> None:
    (problem,) = problems_after("gates/churn.yaml", "slices: [overall, plan]", "slices: [overall, plann]")
    assert problem == (
        "gates/churn.yaml:18: metrics[3].slices[1]: unknown slice 'plann' "
        "(declared: overall, plan, plan x region, region, tenure_months)"
    )


def test_label_cannot_be_a_model_input(problems_after: Edit) -> None:
    assert problems_after("gates/churn.yaml", "label: churned", "label: plan") == [
        "gates/churn.yaml:4: dataset.label: label column 'plan' is also a model input in models/churn/model.yaml"
    ]


def test_yml_extension_is_refused_not_ignored(tree: TemplateTree) -> None:
    tree.write("environments/qa.yml", "name: qa\n")
    assert tree.problems() == ["environments/qa.yml: rename to .yaml: modelcd reads only .yaml files"]


def test_invalid_file_is_not_reported_again_as_missing(tree: TemplateTree) -> None:
    tree.replace("models/churn/model.yaml", "task: binary_classification", "task: [")
    (problem,) = tree.problems()
    assert problem.startswith("models/churn/model.yaml:")
    assert "YAML syntax error" in problem


GATE = "gates/churn.yaml"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "value: {min: 0.70}",
            "value: {min: 7.0}",
            f"{GATE}:8: metrics[0].value.min: roc_auc is always between 0 and 1: min 7 is outside its range",
        ),
        (
            "value: {max: 0.60}",
            "value: {max: -0.1}",
            f"{GATE}:13: metrics[2].value.max: log_loss is always at least 0: max -0.1 is outside its range",
        ),
        (
            "change: {absolute: 0.01}",
            "change: {absolute: 1.5}",
            f"{GATE}:9: metrics[0].change.absolute: roc_auc moves by at most 1: a tolerance of 1.5 accepts anything",
        ),
    ],
)
def test_a_threshold_outside_the_metrics_range_is_refused(
    problems_after: Edit, old: str, new: str, expected: str
) -> None:
    assert problems_after(GATE, old, new) == [expected]


def test_a_slice_on_a_feature_the_model_does_not_take_is_refused(problems_after: Edit) -> None:
    inputs = "tenure_months, monthly_charges, support_calls, usage_gb, plan, region, autopay"
    assert problems_after(GATE, "  - feature: region\n", "  - feature: country\n") == [
        f"{GATE}:24: slices[1].feature: slice feature 'country' is not an input of the model "
        f"(models/churn/model.yaml has {inputs})"
    ]


def test_a_crossed_slice_feature_the_model_does_not_take_is_refused(problems_after: Edit) -> None:
    (problem,) = problems_after(GATE, "cross: [plan, region]", "cross: [plan, country]")
    assert problem.startswith(f"{GATE}:27: slices[3].cross[1]: slice feature 'country' is not an input")


def test_every_metric_a_gate_can_name_has_a_known_range() -> None:
    from cd.config.checks import METRIC_RANGES, METRICS_BY_TASK

    assert set(METRIC_RANGES) == set().union(*METRICS_BY_TASK.values())


def test_an_s3_dataset_must_be_pinned(tree: TemplateTree) -> None:
    text = tree.root.joinpath(GATE).read_text()
    text = text.replace("path: data/churn_test.csv", "path: s3://acme-ml/churn_test.csv")
    tree.write(GATE, "\n".join(line for line in text.splitlines() if "sha256:" not in line) + "\n")
    (problem,) = tree.problems()
    assert problem.startswith(f"{GATE}:3: dataset.path: an s3:// dataset needs `sha256:`")


def test_a_shadow_step_after_traffic_was_shifted_is_refused(tree: TemplateTree) -> None:
    tree.replace(STAGING, "    - set_weight: 50\n", "    - shadow: 1m\n    - set_weight: 50\n")
    assert tree.problems() == [
        f"{STAGING}:16: rollout.steps[4].shadow: a shadow step must come before the first set_weight: "
        "once the candidate answers clients it is no longer in shadow"
    ]


def test_analysis_knobs_are_read_with_their_units(tree: TemplateTree) -> None:
    from cd.config import load_repo

    tree.replace(STAGING, "    max_extension: 30m\n", "    max_extension: 1h30m\n    max_disagreement: 0.1\n")
    analysis = load_repo(tree.root).environments["staging"].rollout.analysis
    assert (analysis.max_extension, analysis.max_disagreement, analysis.alpha) == (5400.0, 0.1, 0.01)


NATIVE_CANARY_STEPS = "  steps:\n    - set_weight: 10\n    - bake: 5m\n    - set_weight: 100\n  analysis:\n"


def _native(tree: TemplateTree, strategy: str, steps: str = NATIVE_CANARY_STEPS, count: int = 2) -> None:
    text = (tree.root / STAGING).read_text()
    start, end = text.index("  steps:\n"), text.index("  analysis:\n")
    text = text[:start] + steps + text[end + len("  analysis:\n") :]
    text = text.replace("strategy: canary", f"strategy: {strategy}").replace(
        "instance_count: 1", f"instance_count: {count}"
    )
    (tree.root / STAGING).write_text(text)


def test_a_sagemaker_canary_of_the_right_shape_is_valid(tree: TemplateTree) -> None:
    from cd.config import load_repo

    _native(tree, "sagemaker_canary")
    native = load_repo(tree.root).environments["staging"].rollout.native
    assert native is not None and (native.mode, native.step_percent, native.wait_seconds) == (
        "CANARY",
        10,
        300,
    )


def test_a_sagemaker_canary_needs_two_instances(tree: TemplateTree) -> None:
    _native(tree, "sagemaker_canary", count=1)
    [problem] = tree.problems()
    assert problem.endswith(
        "models.churn.serving.instance_count: sagemaker_canary shifts whole instances of the new fleet: "
        "it needs instance_count 2 or more, not 1"
    )


def test_sagemaker_linear_steps_are_one_size_with_one_bake(tree: TemplateTree) -> None:
    steps = "  steps:\n    - set_weight: 25\n    - bake: 1m\n    - set_weight: 60\n    - bake: 1m\n    - set_weight: 100\n  analysis:\n"
    _native(tree, "sagemaker_linear", steps)
    [problem] = tree.problems()
    assert "rollout.steps: sagemaker_linear takes the steps set_weight: N, bake: D, set_weight: 2N" in problem


def test_a_native_strategy_on_the_local_target_is_refused(tree: TemplateTree) -> None:
    _native(tree, "sagemaker_canary")
    text = (tree.root / STAGING).read_text()
    start, end = text.index("target:\n"), text.index("rollout:\n")
    (tree.root / STAGING).write_text(
        text[:start] + "target:\n  kind: local\n  endpoint_prefix: modelcd-staging\n" + text[end:]
    )
    problems = tree.problems()
    assert any("rollout.strategy: sagemaker_canary needs a sagemaker target" in p for p in problems), problems


def test_a_sagemaker_capture_needs_an_s3_destination(tree: TemplateTree) -> None:
    tree.replace(STAGING, "approvals:\n", "monitoring:\n  capture: {sampling_percentage: 20}\napprovals:\n")
    [problem] = tree.problems()
    assert problem.endswith(
        "monitoring.capture: a SageMaker endpoint captures to S3: set destination: s3://BUCKET/PREFIX"
    )
    assert problem.startswith(f"{STAGING}:")


def test_drift_checks_need_data_capture(problems_after: Edit) -> None:
    [problem] = problems_after(
        STAGING, "    max_error_rate: 0.01\n", "    max_error_rate: 0.01\n    max_prediction_ks: 0.1\n"
    )
    assert problem.endswith(
        "rollout.analysis: max_prediction_ks and max_input_ks read data capture: set monitoring.capture"
    )


def test_a_captured_environment_with_drift_checks_is_valid(tree: TemplateTree) -> None:
    tree.replace(STAGING, "    max_error_rate: 0.01\n", "    max_error_rate: 0.01\n    max_input_ks: 0.2\n")
    tree.replace(
        STAGING,
        "approvals:\n",
        "monitoring:\n  capture: {destination: s3://acme-capture/staging}\n  drift: {window: 6h, max_psi: 0.25}\napprovals:\n",
    )
    from cd.config import load_repo

    env = load_repo(tree.root).environments["staging"]
    assert env.monitoring.drift.window_seconds == 21600 and env.monitoring.drift.max_psi == 0.25
    assert env.rollout.analysis.max_input_ks == 0.2


def test_the_live_quality_check_needs_capture_and_ground_truth(problems_after: Edit) -> None:
    [problem] = problems_after(
        STAGING,
        "    max_error_rate: 0.01\n",
        "    max_error_rate: 0.01\n    max_misclassification_increase: 0.02\n",
    )
    assert problem.startswith(f"{STAGING}:")
    assert problem.endswith(
        "rollout.analysis: max_misclassification_increase joins data capture with labels: "
        "set monitoring.capture and monitoring.ground_truth"
    )


def test_sagemaker_ground_truth_needs_an_s3_destination(tree: TemplateTree) -> None:
    tree.replace(
        STAGING,
        "approvals:\n",
        "monitoring:\n  capture: {destination: s3://acme-capture/staging}\n  ground_truth: {}\napprovals:\n",
    )
    [problem] = tree.problems()
    assert problem.endswith(
        "monitoring.ground_truth: a SageMaker endpoint's labels arrive in S3: set destination: s3://BUCKET/PREFIX"
    )


def _judge_live_quality(tree: TemplateTree) -> None:
    """Staging with the live-quality check, its capture and its labels (SageMaker: both in S3)."""
    tree.replace(
        STAGING,
        "    max_error_rate: 0.01\n",
        "    max_error_rate: 0.01\n    max_misclassification_increase: 0.03\n",
    )
    tree.replace(
        STAGING,
        "approvals:\n",
        "monitoring:\n  capture: {destination: s3://acme-capture/staging}\n"
        "  ground_truth: {destination: s3://acme-labels/staging}\napprovals:\n",
    )


def test_an_environment_judging_live_quality_is_valid(tree: TemplateTree) -> None:
    _judge_live_quality(tree)
    from cd.config import load_repo

    env = load_repo(tree.root).environments["staging"]
    assert env.rollout.analysis.max_misclassification_increase == 0.03
    assert env.monitoring.ground_truth is not None
    assert env.monitoring.ground_truth.destination == "s3://acme-labels/staging"


def test_the_live_quality_check_refuses_a_model_that_is_not_a_binary_classifier(tree: TemplateTree) -> None:
    _judge_live_quality(tree)
    tree.replace("models/churn/model.yaml", "task: binary_classification", "task: regression")
    problems = tree.problems()
    assert any(
        p.startswith(f"{STAGING}:")
        and p.endswith(
            "models.churn: max_misclassification_increase judges binary classifiers; model 'churn' is "
            "regression (models/churn/model.yaml)"
        )
        for p in problems
    ), problems


def test_an_experiment_takes_one_split_and_ends_with_an_experiment_step(tree: TemplateTree) -> None:
    tree.replace(STAGING, "strategy: canary", "strategy: experiment")
    problems = tree.problems()
    assert any("strategy: experiment takes one set_weight between 1 and 99" in p for p in problems)
    assert any("strategy: experiment needs rollout.experiment: {metric: NAME}" in p for p in problems)


def test_an_experiment_step_needs_the_experiment_strategy(problems_after: Edit) -> None:
    [problem] = problems_after(STAGING, "    - bake: 2m\n", "    - experiment: 2m\n")
    assert problem.endswith("an experiment step needs strategy: experiment")


def _three_way(tree: TemplateTree, challengers: str = "[3]", version: str = "2") -> None:
    """Staging runs an experiment of churn `version` with the `challengers` (YAML text) against v1."""
    from tests.helpers import as_experiment

    path = tree.root / STAGING
    text = as_experiment(path.read_text(), (), version=int(version))
    path.write_text(
        text.replace(f"    version: {version}\n", f"    version: {version}\n    challengers: {challengers}\n")
    )


def test_an_experiment_with_challengers_is_valid(tree: TemplateTree) -> None:
    from cd.config import load_repo

    _three_way(tree, "[3, 4]")
    churn = load_repo(tree.root).environments["staging"].models["churn"]
    assert (churn.version, churn.challengers, churn.versions) == (2, (3, 4), (2, 3, 4))


def test_challengers_need_the_experiment_strategy(problems_after: Edit) -> None:
    assert problems_after(STAGING, "    version: 1\n", "    version: 1\n    challengers: [2]\n") == [
        f"{STAGING}:36: models.churn.challengers: challengers need strategy: experiment; a canary rolls "
        "out one version"
    ]


def test_a_challenger_cannot_be_the_models_version(tree: TemplateTree) -> None:
    _three_way(tree, "[2, 3]")
    assert tree.problems() == [f"{STAGING}:30: models.churn.challengers: v2 is the model's version already"]


def test_the_split_must_leave_stable_a_share(tree: TemplateTree) -> None:
    _three_way(tree, "[3, 4]")
    tree.replace(STAGING, "set_weight: 30", "set_weight: 34")
    assert tree.problems() == [
        f"{STAGING}:30: models.churn.challengers: set_weight 34 gives each of the 3 versions 34% and "
        "leaves stable -2%: use set_weight 33 or less"
    ]


def test_an_experiment_with_challengers_takes_no_analysis_step(tree: TemplateTree) -> None:
    _three_way(tree)
    tree.replace(STAGING, "    - experiment: 168h\n", "    - analysis: {}\n    - experiment: 168h\n")
    assert tree.problems() == [
        f"{STAGING}:13: rollout.steps[1]: an experiment with challengers (churn) takes set_weight, bake and "
        "experiment steps: analysis and shadow steps judge one candidate against stable"
    ]


@pytest.mark.parametrize("bad", ["[]", "[0]", "[3, 3]", "[1, 2, 3, 4, 5, 6, 7, 8, 9]"])
def test_the_challengers_list_is_checked_by_the_schema(tree: TemplateTree, bad: str) -> None:
    _three_way(tree, bad, version="10")
    [problem] = tree.problems()
    assert problem.startswith(f"{STAGING}:30: models.churn.challengers")

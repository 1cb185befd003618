"""gates/<model>.yaml and models/<name>/model.yaml schema rules."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cd.config import load_repo
from cd.examples import churn
from tests.config.conftest import TemplateTree

Edit = Callable[[str, str, str], list[str]]
GATE = "gates/churn.yaml"
MODEL = "models/churn/model.yaml"


def test_gate_needs_a_label(problems_after: Edit) -> None:
    assert problems_after(GATE, "  label: churned\n", "") == [
        f"{GATE}:2: dataset: missing required key 'label'"
    ]


def test_gate_metric_must_be_known(problems_after: Edit) -> None:
    (problem,) = problems_after(GATE, "metric: roc_auc", "metric: auroc")
    assert problem.startswith(f"{GATE}:7: metrics[0].metric: must be one of example_count, accuracy")
    assert problem.endswith("got a string ('auroc')")


def test_gate_metric_needs_a_threshold(problems_after: Edit) -> None:
    assert problems_after(
        GATE, "  - metric: pr_auc\n    change: {absolute: 0.02}\n", "  - metric: pr_auc\n"
    ) == [f"{GATE}:10: metrics[1]: a metric check needs a `value` threshold, a `change` threshold, or both"]


def test_change_tolerance_cannot_be_negative(problems_after: Edit) -> None:
    assert problems_after(GATE, "change: {absolute: 0.01}", "change: {absolute: -0.01}") == [
        f"{GATE}:9: metrics[0].change.absolute: -0.01 is less than the minimum of 0"
    ]


def test_sha256_pin_must_be_hex(problems_after: Edit) -> None:
    (problem,) = problems_after(GATE, f"  sha256: {churn.TEST_SHA256}", "  sha256: abc")
    assert problem.startswith(f"{GATE}:5: dataset.sha256: invalid value 'abc': 64 lowercase hex digits")


def test_buckets_need_a_feature_slice(problems_after: Edit) -> None:
    assert problems_after(
        GATE, "  - cross: [plan, region]\n", "  - {cross: [plan, region], buckets: [1]}\n"
    ) == [f"{GATE}:27: slices[3]: `buckets` applies to a `feature` slice only"]


def test_slice_needs_feature_or_cross(problems_after: Edit) -> None:
    assert problems_after(
        GATE, "  - feature: region\n", "  - {feature: region, cross: [plan, region]}\n"
    ) == [f"{GATE}:24: slices[1]: a slice needs exactly one of `feature` or `cross`"]


def test_bucket_edges_must_increase(problems_after: Edit) -> None:
    assert problems_after(GATE, "buckets: [12, 36]", "buckets: [36, 12]") == [
        f"{GATE}:26: slices[2].buckets: bucket edges must be strictly increasing"
    ]


def test_confidence_must_be_between_half_and_one(problems_after: Edit) -> None:
    assert problems_after(GATE, "confidence: 0.95", "confidence: 95") == [
        f"{GATE}:29: confidence: 95 is greater than or equal to the maximum of 1"
    ]


def test_nan_threshold_is_refused(problems_after: Edit) -> None:
    assert problems_after(GATE, "value: {min: 0.70}", "value: {min: .nan}") == [
        f"{GATE}:8: metrics[0].value.min: '.nan' is not allowed: numbers must be finite"
    ]


def test_model_task_must_be_known(problems_after: Edit) -> None:
    (problem,) = problems_after(MODEL, "task: binary_classification", "task: ranking")
    assert problem == (
        f"{MODEL}:3: task: must be one of binary_classification, multiclass_classification, "
        "regression; got a string ('ranking')"
    )


def test_model_input_type_must_be_known(problems_after: Edit) -> None:
    (problem,) = problems_after(MODEL, "{name: usage_gb, type: number}", "{name: usage_gb, type: float}")
    assert problem.startswith(f"{MODEL}:11: inputs[3].type: must be one of integer, number, string, boolean")


def test_model_inputs_must_be_unique(problems_after: Edit) -> None:
    assert problems_after(MODEL, "{name: usage_gb, type: number}", "{name: plan, type: number}") == [
        f"{MODEL}:12: inputs[4].name: duplicate input column 'plan'"
    ]


def test_model_owner_must_be_a_handle_or_email(problems_after: Edit) -> None:
    (problem,) = problems_after(MODEL, '"@ml-team"', '"ml team"')
    assert problem.startswith(f"{MODEL}:6: owners[0]: invalid value 'ml team'")


def test_gate_multiplicity_must_be_a_known_method(problems_after: Edit) -> None:
    assert problems_after(GATE, "min_examples: 100\n", "min_examples: 100\nmultiplicity: bonferroni\n") == [
        f"{GATE}:29: multiplicity: must be one of holm, bh, none; got a string ('bonferroni')"
    ]


def test_gate_class_minimums_cannot_be_negative(problems_after: Edit) -> None:
    assert problems_after(GATE, "min_examples: 100\n", "min_examples: 100\nmin_positives: -1\n") == [
        f"{GATE}:29: min_positives: -1 is less than the minimum of 0"
    ]


def test_gate_shap_rows_are_bounded(problems_after: Edit) -> None:
    assert problems_after(
        GATE, "min_examples: 100\n", "min_examples: 100\nimportance: {shap: {rows: 5}}\n"
    ) == [f"{GATE}:29: importance.shap.rows: 5 is less than the minimum of 10"]


@pytest.mark.parametrize(
    ("importance", "rows", "background"),
    [
        ("", 0, 50),
        ("importance: {rows: 500}\n", 0, 50),
        ("importance: {shap: false}\n", 0, 50),
        ("importance: {shap: true}\n", 50, 50),
        ("importance: {shap: {rows: 20, background: 5}}\n", 20, 5),
    ],
)
def test_gate_shap_is_off_unless_asked_for(
    tree: TemplateTree, importance: str, rows: int, background: int
) -> None:
    tree.replace(GATE, "min_examples: 100\n", "min_examples: 100\n" + importance)
    gate = load_repo(tree.root).gates["churn"]
    assert (gate.shap_rows, gate.shap_background) == (rows, background)

"""Release notes and model card rendering."""

from __future__ import annotations

from dataclasses import replace

from cd.release.model import HistoryEntry, ReleaseInputs
from cd.release.notes import check_table, render_model_card, render_notes, verdict_summary


def test_notes_carry_every_section(inputs: ReleaseInputs) -> None:
    history = (HistoryEntry("staging", "2025-01-02T03:04:05Z", "e" * 40, "https://run/1"),)

    notes = render_notes(inputs, history, {"model-card.md": "9" * 64})

    assert "# churn v2" in notes
    assert "**Promotion:** staging: churn v1 -> v2" in notes
    assert "**PASS: candidate v2 beats incumbent v1 on every gated metric**" in notes
    assert "| metric | slice | candidate | incumbent | change | threshold | outcome |" in notes
    assert (
        "| roc_auc | overall | 0.912 [0.892, 0.932] | 0.9 [0.88, 0.92] | 0.012 [0, 0.02] | ≥ 0.7 | pass |"
        in notes
    )
    assert "| @rui | APPROVED | `cccccccccccc` | head |" in notes
    assert "| Bento tag | `churn:v2-aaaaaaaaaaaa` |" in notes
    assert f"| image digest | `123.dkr.ecr/modelcd@sha256:{'b' * 64}` |" in notes
    assert "| `n_estimators` | 200 |" in notes
    assert f"| model sha256 | `{'a' * 64}` |" in notes
    assert f"| `data/churn-eval.csv` | `{'d' * 64}` |" in notes
    assert "| staging | 2025-01-02T03:04:05Z | `eeeeeeeeeeee` | https://run/1 |" in notes
    assert f"| `model-card.md` | `{'9' * 64}` |" in notes


def test_notes_without_verdict_approvals_or_build_say_so(inputs: ReleaseInputs) -> None:
    bare = replace(inputs, verdict=None, approvals=(), build_record={}, plan_entry=None)

    notes = render_notes(bare, (), {})

    assert "No gate verdict was supplied." in notes
    assert "No pull-request approvals recorded." in notes
    assert "| build record | not supplied |" in notes
    assert "Not deployed yet." in notes


def test_verdict_of_unknown_layout_renders_defensively() -> None:
    verdict = {"passed": False, "checks": [{"name": "auc", "detail": {"nested": 1}, "ok": False}, "junk"]}

    assert verdict_summary(verdict) == "FAIL"
    assert check_table(verdict) == ([], [])
    assert verdict_summary({}) == "UNKNOWN"
    assert check_table({"checks": "not a list"}) == ([], [])


def test_each_check_shows_its_numbers_and_a_lower_is_better_metric_is_not_a_failure() -> None:
    check = {
        "metric": "log_loss",
        "higher_is_better": False,
        "slice": "overall",
        "candidate": {"value": 0.41, "ci_low": 0.38, "ci_high": 0.44},
        "incumbent": {"value": 0.43, "ci_low": 0.40, "ci_high": 0.46},
        "delta": {"value": -0.02, "ci_low": -0.03, "ci_high": -0.01},
        "thresholds": {
            "value": {"min": None, "max": 0.6},
            "change": {"absolute": None, "relative": 0.05},
            "allowed_delta": 0.0215,
        },
        "outcome": "pass",
    }
    columns, rows = check_table({"checks": [check]})
    assert columns == ["metric", "slice", "candidate", "incumbent", "change", "threshold", "outcome"]
    assert rows == [
        [
            "log_loss",
            "overall",
            "0.41 [0.38, 0.44]",
            "0.43 [0.4, 0.46]",
            "-0.02 [-0.03, -0.01]",
            "≤ 0.6; change ≤ +0.0215",
            "pass",
        ]
    ]


def test_gate_override_is_shown(inputs: ReleaseInputs) -> None:
    overridden = replace(
        inputs, verdict={"verdict": "fail", "override": {"by": "lead", "reason": "known label noise"}}
    )

    assert "Gate overridden by @lead: known label noise" in render_notes(overridden, (), {})


def test_stale_approval_is_marked(inputs: ReleaseInputs) -> None:
    stale = replace(inputs, approvals=(replace(inputs.approvals[0], on_head=False),))

    assert "stale (older commit)" in render_notes(stale, (), {})


def test_model_card_lists_owners_inputs_and_metrics(inputs: ReleaseInputs) -> None:
    card = render_model_card(inputs.card)

    assert card.startswith("# Model card: churn v2\n")
    assert "| owners | @ml-team |" in card
    assert "| `tenure_months` | integer |" in card
    assert "| `val_roc_auc` | 0.9134 |" in card


def test_the_model_card_carries_the_gates_headline_numbers() -> None:
    from cd.release.inputs import model_card
    from tests.release.conftest import VERDICT

    card = model_card("churn", 2, None, None, {}, None, VERDICT)
    text = render_model_card(card)
    assert "## Gate (PASS in staging)" in text
    assert "| roc_auc | 0.912 [0.892, 0.932] | 0.9 [0.88, 0.92] | pass |" in text
    assert "plan=basic" not in text


def test_notes_name_the_base_image_the_image_was_built_from(inputs: ReleaseInputs) -> None:
    base = "python@sha256:" + "5b" * 32
    record = {**inputs.build_record, "base_image": base}
    notes = render_notes(replace(inputs, build_record=record), (), {})
    assert f"| base image | `{base}` |" in notes

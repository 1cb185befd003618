"""The gate comes from the base ref: a PR cannot lower its own bar (real git repositories)."""

from __future__ import annotations

import pytest

from cd.config import load_repo, load_repo_at_ref
from cd.errors import GateError
from cd.gates.evaluate import choose_gate
from tests.helpers import GitRepo

LOWER = ("value: {min: 0.70}", "value: {min: 0.10}")


def lower_bar(repo: GitRepo) -> None:
    text = repo.read("gates/churn.yaml")
    assert LOWER[0] in text
    repo.write("gates/churn.yaml", text.replace(*LOWER))


def roc_auc_min(gate: object) -> float | None:
    check = next(c for c in gate.metrics if c.metric == "roc_auc")  # type: ignore[attr-defined]
    return check.value.min


def test_pr_lowering_the_threshold_is_judged_by_the_base_gate(template_repo: GitRepo) -> None:
    template_repo.git("checkout", "-q", "-b", "pr")
    lower_bar(template_repo)
    template_repo.commit("lower the bar")
    choice = choose_gate(
        template_repo.path,
        "churn",
        "main",
        "pr",
        load_repo_at_ref(template_repo.path, "main"),
        load_repo_at_ref(template_repo.path, "pr"),
    )
    assert (roc_auc_min(choice.gate), choice.ref, choice.status) == (0.70, "main", "changed_in_pr")
    assert choice.notes == (
        "gates/churn.yaml is changed by this pull request: judged by the base version (main); "
        "the gate change needs its own review",
    )


def test_uncommitted_lowering_in_the_working_tree_is_judged_by_the_base_gate(template_repo: GitRepo) -> None:
    lower_bar(template_repo)
    choice = choose_gate(
        template_repo.path,
        "churn",
        "HEAD",
        None,
        load_repo_at_ref(template_repo.path, "HEAD"),
        load_repo(template_repo.path),
    )
    assert (roc_auc_min(choice.gate), choice.status) == (0.70, "changed_in_pr")


def test_unchanged_gate_has_no_notes(template_repo: GitRepo) -> None:
    template_repo.git("checkout", "-q", "-b", "pr")
    template_repo.commit("nothing")
    config = load_repo_at_ref(template_repo.path, "main")
    choice = choose_gate(template_repo.path, "churn", "main", "pr", config, config)
    assert (choice.status, choice.notes) == ("unchanged", ())


def test_a_gate_new_in_the_pr_is_used_and_flagged(template_repo: GitRepo) -> None:
    gate = template_repo.read("gates/churn.yaml")
    template_repo.remove("gates/churn.yaml")
    for env in ("staging", "production"):
        text = template_repo.read(f"environments/{env}.yaml")
        template_repo.write(f"environments/{env}.yaml", text[: text.index("models:")] + "models: {}\n")
    template_repo.commit("no gate yet")
    template_repo.git("checkout", "-q", "-b", "pr")
    template_repo.write("gates/churn.yaml", gate.replace(*LOWER))
    template_repo.commit("add a gate")
    choice = choose_gate(
        template_repo.path,
        "churn",
        "main",
        "pr",
        load_repo_at_ref(template_repo.path, "main"),
        load_repo_at_ref(template_repo.path, "pr"),
    )
    assert (roc_auc_min(choice.gate), choice.ref, choice.status) == (0.10, "pr", "new_in_pr")
    assert choice.notes == (
        "new gate, needs review: gates/churn.yaml does not exist at the base (main); judged by this PR's version",
    )


def test_no_gate_anywhere_is_a_clear_error(template_repo: GitRepo) -> None:
    config = load_repo_at_ref(template_repo.path, "main")
    with pytest.raises(GateError, match=r"^no gate for model 'fraud': add gates/fraud.yaml$"):
        choose_gate(template_repo.path, "fraud", "main", None, config, config)

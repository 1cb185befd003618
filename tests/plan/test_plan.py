"""`plan` between two refs of a real git repository: what changes, per environment and model."""

from __future__ import annotations

import json

import pytest

from cd.errors import ConfigError, GitError
from cd.plan import plan_between_refs
from tests.helpers import GitRepo, as_experiment, run_modelcd

STAGING = "environments/staging.yaml"
PRODUCTION = "environments/production.yaml"
FRAUD_MODEL = """registered_model: fraud
task: binary_classification
owners: ["@risk"]
inputs:
  - {name: amount, type: number}
"""
FRAUD_GATE = """dataset: {path: data/fraud.csv, label: is_fraud}
metrics:
  - metric: roc_auc
    value: {min: 0.8}
"""


def bump(repo: GitRepo, env_file: str, old: str, new: str) -> None:
    text = repo.read(env_file)
    assert old in text
    repo.write(env_file, text.replace(old, new, 1))


def test_version_bump_is_a_promotion(template_repo: GitRepo) -> None:
    bump(template_repo, STAGING, "    version: 1", "    version: 2")
    template_repo.commit("promote churn to v2 in staging")
    plan = plan_between_refs(template_repo.path, "HEAD~1")
    assert [(c.env, c.model, c.kind, c.from_version, c.to_version) for c in plan.changes] == [
        ("staging", "churn", "promoted", 1, 2)
    ]
    assert plan.changed_files == (STAGING,)
    assert plan.problems == ()


def test_new_model_is_added(template_repo: GitRepo) -> None:
    template_repo.write("models/fraud/model.yaml", FRAUD_MODEL)
    template_repo.write("gates/fraud.yaml", FRAUD_GATE)
    bump(template_repo, STAGING, "models:\n", "models:\n  fraud:\n    version: 3\n")
    template_repo.commit("add fraud")
    plan = plan_between_refs(template_repo.path, "HEAD~1")
    assert [(c.env, c.model, c.kind, c.from_version, c.to_version) for c in plan.changes] == [
        ("staging", "fraud", "added", None, 3)
    ]
    assert plan.changed_files == ("environments/staging.yaml", "gates/fraud.yaml", "models/fraud/model.yaml")


def test_deleted_model_is_removed(template_repo: GitRepo) -> None:
    text = template_repo.read(STAGING)
    template_repo.write(STAGING, text[: text.index("  churn:")])
    template_repo.commit("remove churn from staging")
    plan = plan_between_refs(template_repo.path, "HEAD~1")
    assert [(c.kind, c.from_version, c.to_version) for c in plan.changes] == [("removed", 1, None)]


def test_serving_change_is_a_reconfiguration(template_repo: GitRepo) -> None:
    bump(template_repo, STAGING, "instance_count: 1", "instance_count: 3")
    template_repo.commit("scale staging")
    (change,) = plan_between_refs(template_repo.path, "HEAD~1").changes
    assert (change.kind, change.details) == ("reconfigured", ("serving.instance_count: 1 -> 3",))


def test_rollout_policy_change_is_an_environment_change(template_repo: GitRepo) -> None:
    bump(template_repo, STAGING, "min_requests: 200", "min_requests: 300")
    template_repo.commit("tune analysis")
    plan = plan_between_refs(template_repo.path, "HEAD~1")
    assert plan.changes == ()
    assert plan.environment_changes == ("staging: rollout",)


def test_gate_file_change_is_listed(template_repo: GitRepo) -> None:
    bump(template_repo, "gates/churn.yaml", "value: {min: 0.70}", "value: {min: 0.60}")
    template_repo.commit("lower the bar")
    assert plan_between_refs(template_repo.path, "HEAD~1").changed_files == ("gates/churn.yaml",)


def test_unchanged_refs_give_an_empty_plan(template_repo: GitRepo) -> None:
    plan = plan_between_refs(template_repo.path, "HEAD", "HEAD")
    assert plan.is_empty
    assert plan.matrix() == {"include": []}


def test_production_version_not_live_in_staging_is_a_problem(template_repo: GitRepo) -> None:
    bump(template_repo, PRODUCTION, "    version: 1", "    version: 2")
    template_repo.commit("skip staging")
    (problem,) = plan_between_refs(template_repo.path, "HEAD~1").problems
    assert str(problem) == (
        f"{PRODUCTION}:39: models.churn.version: v2 is not live in 'staging' (staging runs v1 at the base ref); "
        "promote it through staging first"
    )


def test_production_version_live_in_staging_at_base_is_fine(template_repo: GitRepo) -> None:
    bump(template_repo, STAGING, "    version: 1", "    version: 2")
    template_repo.commit("staging v2")
    bump(template_repo, PRODUCTION, "    version: 1", "    version: 2")
    template_repo.commit("production v2")
    assert plan_between_refs(template_repo.path, "HEAD~1").problems == ()


def test_promoting_both_at_once_is_a_problem_for_production(template_repo: GitRepo) -> None:
    bump(template_repo, STAGING, "    version: 1", "    version: 2")
    bump(template_repo, PRODUCTION, "    version: 1", "    version: 2")
    template_repo.commit("both at once")
    plan = plan_between_refs(template_repo.path, "HEAD~1")
    assert [p.file for p in plan.problems] == [PRODUCTION]


def test_invalid_head_tree_names_the_ref(template_repo: GitRepo) -> None:
    bump(template_repo, STAGING, "    version: 1", "    version: one")
    template_repo.commit("typo")
    with pytest.raises(ConfigError) as info:
        plan_between_refs(template_repo.path, "HEAD~1")
    assert str(info.value) == (
        f"{STAGING} (at HEAD):35: models.churn.version: expected an integer, got a string ('one')"
    )


def test_unknown_ref_is_a_git_error(template_repo: GitRepo) -> None:
    with pytest.raises(GitError, match="git ref 'no-such-branch' does not name a commit"):
        plan_between_refs(template_repo.path, "no-such-branch")


def test_plan_reads_git_not_the_working_tree(template_repo: GitRepo) -> None:
    bump(template_repo, STAGING, "    version: 1", "    version: 2")
    template_repo.commit("staging v2")
    template_repo.write(STAGING, "uncommitted garbage: [")
    assert [c.to_version for c in plan_between_refs(template_repo.path, "HEAD~1").changes] == [2]


def test_matrix_format_on_a_promotion_commit(template_repo: GitRepo) -> None:
    bump(template_repo, STAGING, "    version: 1", "    version: 2")
    template_repo.commit("staging v2")
    done = run_modelcd("plan", "--base", "HEAD~1", "--format", "matrix", cwd=template_repo.path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "include": [{"env": "staging", "model": "churn", "from": 1, "to": 2, "change": "promoted"}]
    }


def test_plan_cli_exits_1_on_promotion_order_problem(template_repo: GitRepo) -> None:
    bump(template_repo, PRODUCTION, "    version: 1", "    version: 2")
    template_repo.commit("skip staging")
    done = run_modelcd("plan", "--base", "HEAD~1", cwd=template_repo.path)
    assert done.returncode == 1
    assert "v2 is not live in 'staging'" in done.stderr


def test_plan_cli_says_when_empty(template_repo: GitRepo) -> None:
    done = run_modelcd("plan", "--base", "HEAD", cwd=template_repo.path)
    assert done.returncode == 0
    assert "No changes: the plan is empty." in done.stdout


def test_plan_markdown_flags_gate_changes(template_repo: GitRepo) -> None:
    bump(template_repo, "gates/churn.yaml", "value: {min: 0.70}", "value: {min: 0.60}")
    template_repo.commit("lower the bar")
    done = run_modelcd("plan", "--base", "HEAD~1", "--format", "markdown", cwd=template_repo.path)
    assert "**Gate definitions changed**" in done.stdout


def _experiment_in_staging(repo: GitRepo, *challengers: int) -> None:
    """Staging turns into an experiment of churn v2 (with `challengers`) against v1; committed."""
    repo.write(STAGING, as_experiment(repo.read(STAGING), challengers, version=2))
    repo.commit(f"staging: an experiment of v2 and {challengers} against v1")


def test_a_challenger_is_a_change_of_its_own_gated_and_built(template_repo: GitRepo) -> None:
    from cd.github.matrix import build_matrix, gate_matrix

    _experiment_in_staging(template_repo, 3)
    plan = plan_between_refs(template_repo.path, "HEAD~1")
    assert [(c.model, c.kind, c.from_version, c.to_version) for c in plan.changes] == [
        ("churn", "promoted", 1, 2),
        ("churn", "challenger", 1, 3),
    ]
    assert [(e["to"], e["change"]) for e in gate_matrix(plan)["include"]] == [
        (2, "promoted"),
        (3, "challenger"),
    ]
    assert [e["version"] for e in build_matrix(plan)["include"]] == [2, 3]
    assert plan.changes[1].describe() == "churn v3 (challenger)"


def test_keeping_a_challenger_builds_it_again_but_does_not_gate_it_again(template_repo: GitRepo) -> None:
    from cd.github.matrix import build_matrix, gate_matrix

    _experiment_in_staging(template_repo, 3)
    bump(template_repo, STAGING, "    version: 2\n", "    version: 4\n")
    template_repo.commit("staging: v4 and v3 against v1")
    plan = plan_between_refs(template_repo.path, "HEAD~1")
    assert [(c.kind, c.to_version, c.challengers) for c in plan.changes] == [("promoted", 4, (3,))]
    assert [e["to"] for e in gate_matrix(plan)["include"]] == [4]
    assert [e["version"] for e in build_matrix(plan)["include"]] == [3, 4]  # the experiment deploys both


def test_removing_the_challengers_reconfigures_the_model(template_repo: GitRepo) -> None:
    _experiment_in_staging(template_repo, 3)
    bump(template_repo, STAGING, "    challengers: [3]\n", "")
    template_repo.commit("staging: v2 alone")
    (change,) = plan_between_refs(template_repo.path, "HEAD~1").changes
    assert (change.kind, change.details) == ("reconfigured", ("challengers: [3] -> []",))


def test_a_production_challenger_not_live_in_staging_is_a_problem(template_repo: GitRepo) -> None:
    bump(template_repo, STAGING, "    version: 1", "    version: 2")
    template_repo.commit("staging v2")
    template_repo.write(PRODUCTION, as_experiment(template_repo.read(PRODUCTION), (3,), version=2))
    template_repo.commit("production: v2 and v3")
    (problem,) = plan_between_refs(template_repo.path, "HEAD~1").problems
    assert str(problem) == (
        f"{PRODUCTION}:{_line_of(template_repo.read(PRODUCTION), 'challengers:')}: models.churn.challengers: "
        "v3 is not live in 'staging' (staging runs v2 at the base ref); promote it through staging first"
    )


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_production_challenger_from_stagings_own_experiment_is_fine(template_repo: GitRepo) -> None:
    _experiment_in_staging(template_repo, 3)
    template_repo.write(PRODUCTION, as_experiment(template_repo.read(PRODUCTION), (3,), version=2))
    template_repo.commit("production: the same experiment")
    plan = plan_between_refs(template_repo.path, "HEAD~1")
    assert [(c.kind, c.to_version) for c in plan.changes] == [("promoted", 2), ("challenger", 3)]
    assert plan.problems == ()

"""Promotion/rollback decisions and the round-trip edit whose diff is the version line only."""

from __future__ import annotations

import difflib

import pytest

from cd.config import load_repo
from cd.errors import ConfigError, PromotionError
from cd.promote import Promotion, Rollback, plan_promotion, plan_rollback, set_model_version
from tests.helpers import PROJECT_ROOT

CONFIG = load_repo(PROJECT_ROOT)
STAGING = CONFIG.environments["staging"]
PRODUCTION = CONFIG.environments["production"]


def _diff(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_the_edit_changes_the_version_line_only() -> None:
    text = (PROJECT_ROOT / "environments" / "production.yaml").read_text()
    edited = set_model_version(text, "churn", 2, "environments/production.yaml")
    assert _diff(text, edited) == ["-    version: 1", "+    version: 2"]


def test_comments_flow_style_and_odd_spacing_survive() -> None:
    text = (
        "# head comment\nname: staging   # trailing\nmodels:\n"
        "  fraud: {version: 3, serving: {instance_type: ml.c5.large}}  # flow\n"
        "  churn:\n    serving: {instance_count: 1}\n    version:   17   # pinned by PR #12\n"
    )
    assert _diff(text, set_model_version(text, "churn", 18)) == [
        "-    version:   17   # pinned by PR #12",
        "+    version:   18   # pinned by PR #12",
    ]
    assert _diff(text, set_model_version(text, "fraud", 4)) == [
        "-  fraud: {version: 3, serving: {instance_type: ml.c5.large}}  # flow",
        "+  fraud: {version: 4, serving: {instance_type: ml.c5.large}}  # flow",
    ]


def test_a_model_that_is_not_in_the_file_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"environments/x.yaml: models\.fraud\.version: not found"):
        set_model_version("models:\n  churn:\n    version: 1\n", "fraud", 2, "environments/x.yaml")


def test_a_quoted_version_is_refused_rather_than_rewritten() -> None:
    with pytest.raises(ConfigError, match=r"x.yaml:3: models\.churn\.version: expected a plain integer"):
        set_model_version('models:\n  churn:\n    version: "1"\n', "churn", 2, "x.yaml")


def test_promotion_takes_the_version_live_in_the_source() -> None:
    staging = _with_version(STAGING, 2)
    assert plan_promotion(staging, PRODUCTION, "churn", live_in_source=2) == Promotion(
        "churn", "staging", "production", 2, 1
    )
    assert (
        Promotion("churn", "staging", "production", 2, 1).branch == "modelcd/promote-churn-v2-to-production"
    )


def test_promotion_refuses_a_version_that_is_not_live_yet() -> None:
    with pytest.raises(
        PromotionError, match="churn v2 is desired in staging but v1 is live: wait for the staging rollout"
    ):
        plan_promotion(_with_version(STAGING, 2), PRODUCTION, "churn", live_in_source=1)


def test_promotion_refuses_when_nothing_is_live() -> None:
    with pytest.raises(PromotionError, match="churn is not live in staging"):
        plan_promotion(STAGING, PRODUCTION, "churn", live_in_source=None)


def test_promotion_refuses_when_the_target_already_has_it() -> None:
    with pytest.raises(PromotionError, match="churn is already at v1 in production"):
        plan_promotion(STAGING, PRODUCTION, "churn", live_in_source=1)


def test_promotion_follows_promote_from() -> None:
    with pytest.raises(PromotionError, match="production takes promotions from staging, not production"):
        plan_promotion(_with_version(PRODUCTION, 3), _with_version(PRODUCTION, 1), "churn", live_in_source=3)


def test_rollback_sets_git_to_what_is_live_or_to_a_given_version() -> None:
    staging = _with_version(STAGING, 3)
    assert plan_rollback(staging, "churn", live_version=2, to_version=None) == Rollback(
        "churn", "staging", 2, 3
    )
    assert plan_rollback(staging, "churn", live_version=2, to_version=1).version == 1
    with pytest.raises(PromotionError, match="git already has churn at v3 in staging"):
        plan_rollback(staging, "churn", live_version=3, to_version=None)


def _with_version(env, version: int):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    models = dict(env.models)
    models["churn"] = replace(models["churn"], version=version)
    return replace(env, models=models)


def test_a_new_version_ends_the_experiment_removing_its_challengers_only() -> None:
    text = (
        "name: staging\nmodels:\n  churn:\n    version: 4  # A/B/C\n    challengers: [3, 5]\n"
        "    serving: {instance_count: 1}\n  fraud:\n    version: 2\n"
    )
    assert _diff(text, set_model_version(text, "churn", 3)) == [
        "-    version: 4  # A/B/C",
        "-    challengers: [3, 5]",
        "+    version: 3  # A/B/C",
    ]


def test_challengers_as_a_block_list_are_removed_whole() -> None:
    text = "models:\n  churn:\n    version: 4\n    challengers:\n      - 3\n      - 5\n  fraud:\n    version: 2\n"
    assert (
        set_model_version(text, "churn", 5) == "models:\n  churn:\n    version: 5\n  fraud:\n    version: 2\n"
    )


def test_challengers_in_a_flow_style_entry_are_refused_with_the_line() -> None:
    text = "models:\n  churn: {version: 4, challengers: [3]}\n"
    with pytest.raises(ConfigError) as info:
        set_model_version(text, "churn", 3, "environments/staging.yaml")
    assert str(info.value).startswith(
        "environments/staging.yaml:2: models.churn.challengers: the model is written"
    )

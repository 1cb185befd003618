"""Lineage: what is live, traced through what was recorded; missing records are said to be missing."""

from __future__ import annotations

from dataclasses import replace

from cd.lineage import NOT_RECORDED, Records, lineage_of

BUILD = {
    "bento_tag": "churn:v2-6ec3ae1cf4db", "bento_sha256": "335e2251" * 8, "image_digest": "sha256:" + "d" * 64,
    "image_tag": "123.dkr.ecr/modelcd:churn-v2", "run_id": "run-2", "model_sha256": "6ec3ae1c" * 8,
}  # fmt: skip
VERDICT = {
    "verdict": "pass", "summary": "churn v2 vs v1 in staging (6 pass)",
    "gate": {"path": "gates/churn.yaml", "commit": "a" * 40},
    "dataset": {"uri": "data/churn_test.csv", "sha256": "29f921de" * 8},
    "candidate": {"run_id": "run-2", "sha256": "6ec3ae1c" * 8},
}  # fmt: skip
RELEASE = {
    "tag": "churn-v2", "url": "https://github.com/acme/models/releases/tag/churn-v2",
    "history": [{"environment": "staging", "commit": "c" * 40, "pull": 17, "approvals": ["alice APPROVED " + "c" * 40]}],
}  # fmt: skip
FULL = Records(
    environment="staging", model="churn", endpoint="modelcd-staging-churn", live_version=2,
    live_image="123.dkr.ecr/modelcd@sha256:" + "d" * 64,
    rollout={"version": 2, "phase": "succeeded", "revision": 9, "reason": "all steps passed", "git_sha": "c" * 40},
    rollout_file=".modelcd/rollouts/staging-churn-v2.md", release=RELEASE, build=BUILD, verdict=VERDICT,
    release_where="release churn-v2",
)  # fmt: skip


def facts(records: Records) -> dict[str, str | None]:
    return {f.name: f.value for f in lineage_of(records).facts}


def test_every_link_of_a_fully_recorded_model_is_shown() -> None:
    found = facts(FULL)
    assert found["pull request"] == "#17" and found["approvals"] == "alice APPROVED " + "c" * 40
    assert found["gate verdict"] == "PASS: churn v2 vs v1 in staging (6 pass)"
    assert found["dataset sha256"] == "29f921de" * 8 and found["training run"] == "run-2"
    assert found["image digest"] == "sha256:" + "d" * 64 and found["commit"] == "c" * 40
    assert found["release"] == RELEASE["url"] and found["rollout"].startswith("v2 succeeded (revision 9)")  # type: ignore[union-attr]
    assert lineage_of(FULL).mismatches == ()


def test_missing_records_are_not_recorded_never_guessed() -> None:
    bare = Records("staging", "churn", "modelcd-staging-churn", 2, None, None, None, None, None, None)
    lineage = lineage_of(bare)
    assert all(f.value is None for f in lineage.facts)
    assert f"  pull request: {NOT_RECORDED}" in lineage.render().splitlines()


def test_a_merge_commits_subject_names_the_pull_request_when_the_release_does_not() -> None:
    release = {**RELEASE, "history": [{"environment": "staging", "commit": "c" * 40}]}
    found = lineage_of(
        replace(FULL, release=release, commit_subject="Merge pull request #23 from acme/promote")
    )
    assert {f.name: (f.value, f.where) for f in found.facts}["pull request"] == (
        "#23",
        "the commit's subject",
    )


def test_records_that_disagree_are_named_as_mismatches() -> None:
    other = replace(
        FULL, live_image="123.dkr.ecr/modelcd@sha256:" + "e" * 64, build={**BUILD, "run_id": "run-9"}
    )
    assert lineage_of(other).mismatches == (
        "the build record's training run run-9 is not the gate's run-2",
        f"the endpoint serves 123.dkr.ecr/modelcd@sha256:{'e' * 64}, not the build's "
        f"123.dkr.ecr/modelcd:churn-v2 / churn:v2-6ec3ae1cf4db / sha256:{'d' * 64}",
    )

"""`modelcd demo` end to end: every stage's outcome, on the embedded default (real MLflow, real Bentos,
the local router), and no process left behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cd.demo.story import DemoResult, run_demo
from cd.demo.workspace import create

pytestmark = pytest.mark.slow


def alive_processes(workspace: Path) -> list[dict[str, object]]:
    from cd.rollout.local.runtime import status

    state_dir = workspace / ".modelcd" / "local"
    if not state_dir.exists():
        return []
    return [p.__dict__ for p in status(state_dir).processes if p.alive]


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    said: list[str] = []
    result = run_demo(tmp_path_factory.mktemp("demo") / "ws", said.append, traffic_seconds=300)
    print("\n".join(said))
    return result


def stage(result: DemoResult, number: int) -> dict[str, object]:
    (found,) = [s.facts for s in result.stages if s.title.startswith(f"{number}.")]
    return found


def test_four_versions_are_registered(story: DemoResult) -> None:
    assert stage(story, 1)["versions"] == {
        "baseline": 1,
        "better": 2,
        "worse_on_premium": 3,
        "serving_fault": 4,
    }


def test_v1_is_deployed_first(story: DemoResult) -> None:
    assert "v1 succeeded" in str(stage(story, 2)["first_deploy"])


def test_v2_passes_its_gate_and_goes_live_through_the_canary(story: DemoResult) -> None:
    facts = stage(story, 3)
    assert (facts["gate"], facts["deploy_exit"], facts["live"]) == ("pass", 0, {"v2": 100.0})
    assert "v2 succeeded" in str(facts["deploy"])


def test_v3_is_blocked_by_its_gate_on_the_premium_slice(story: DemoResult) -> None:
    facts = stage(story, 4)
    assert facts["gate"] == "fail"
    failed = facts["failed_checks"]
    assert isinstance(failed, list)
    assert any(c.startswith("roc_auc on plan=premium: roc_auc 0.5") for c in failed)
    assert "deploy" not in facts


def test_v4_passes_its_gate_then_is_rolled_back_with_stable_at_100(story: DemoResult) -> None:
    facts = stage(story, 5)
    assert (facts["gate"], facts["deploy_exit"]) == ("pass", 1)
    assert "v4 rolled_back" in str(facts["deploy"])
    assert "error_rate" in str(facts["deploy"])  # its 4xx (client_error_rate_increase) or 5xx
    assert facts["rollback_branch"] == "modelcd/rollback-churn-staging-to-v2"
    assert facts["live"] == {"v2": 100.0}


def test_the_rollout_records_keep_the_numbers(story: DemoResult) -> None:
    record = json.loads((story.workspace / ".modelcd/rollouts/staging-churn-v4.json").read_text())
    assert record["outcome"] == "rolled_back"
    assert any(d["analysis"] and d["analysis"]["phase"] == "Failed" for d in record["decisions"])


def test_the_bad_candidate_never_took_all_traffic(story: DemoResult) -> None:
    record = json.loads((story.workspace / ".modelcd/rollouts/staging-churn-v4.json").read_text())
    assert max((d["weights"] or {}).get("v4", 0.0) for d in record["decisions"]) < 100.0


def test_the_bad_candidate_was_shadowed_first(story: DemoResult) -> None:
    record = json.loads((story.workspace / ".modelcd/rollouts/staging-churn-v4.json").read_text())
    assert [d["action"] for d in record["decisions"]][:2] == ["RecordState", "StartShadow"]


def test_the_monitor_compares_the_versions_that_served_side_by_side(story: DemoResult) -> None:
    lines = stage(story, 6)["comparison"]
    assert isinstance(lines, list)
    assert "v1 against v2, same window: drifted" in lines  # v2 answers differently: it is another model
    assert any(line.startswith("v4 against v2, same window: ") for line in lines)


def test_drifted_traffic_is_named_by_the_monitor_with_its_numbers(story: DemoResult) -> None:
    facts = stage(story, 6)
    assert (facts["monitor_exit"], facts["drifted"]) == (1, ["monthly_charges"])
    report = facts["monitor"]
    assert isinstance(report, dict)
    [v2] = [v for v in report["variants"] if v["variant"] == "v2"]
    charges = next(f for f in v2["features"] if f["feature"] == "monthly_charges")
    assert charges["p_value"] < 1e-6 and charges["effect_size"] > 0.2 and charges["test"] == "ks"
    assert str(report["reference"]).startswith("training inputs recorded with v2 (runs:/")
    assert v2["prediction"] is not None and v2["prediction"]["reference_rows"] == 6000  # scored by v2
    assert not [n for n in report["notes"] if "not computed" in n]


def test_live_quality_sits_beside_the_gates_offline_figures(story: DemoResult) -> None:
    report = stage(story, 6)["monitor"]
    assert isinstance(report, dict)
    [quality] = report["quality"]
    roc = next(f for f in quality["figures"] if f["metric"] == "roc_auc")
    assert quality["labelled_rows"] > 200 and roc["low"] < roc["live"] < roc["high"]
    assert roc["offline"] is not None  # the gate's figure for v2, read from its release


def test_lineage_traces_what_is_live(story: DemoResult) -> None:
    html = story.workspace / "reports" / "monitor" / "monitor-staging-churn.html"
    assert "<svg" in html.read_text()


def test_promote_to_production_changes_only_the_version_line(story: DemoResult) -> None:
    facts = stage(story, 7)
    assert facts["production_branch"] == "modelcd/promote-churn-v2-to-production"
    changed = [
        line
        for line in str(facts["production_diff"]).splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed == ["-    version: 1", "+    version: 2"]


def test_releases_hold_every_artifact_with_checksums(story: DemoResult) -> None:
    release = story.workspace / "releases" / "churn-v2"
    sums = (release / "SHA256SUMS").read_text()
    for name in ("churn-v2.bento", "gate-verdict-staging.json", "gate-report-staging.md", "model-card.md"):
        assert (release / name).is_file()
        assert name in sums


def test_no_serving_process_outlives_the_demo(story: DemoResult) -> None:
    assert alive_processes(story.workspace) == []


def test_running_again_starts_from_a_fresh_workspace(story: DemoResult) -> None:
    ws = create(story.workspace)
    assert sorted(p.name for p in ws.root.iterdir()) == [
        ".git",
        ".gitignore",
        "environments",
        "gates",
        "models",
    ]

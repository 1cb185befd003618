"""A promotion judged end to end: real git repo, real MLflow sqlite store, the real churn models."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from cd.errors import RegistryError
from cd.examples.churn import TEST_SHA256
from cd.gates.evaluate import evaluate_promotion
from cd.gates.report import render_markdown
from cd.registry import Registry
from cd.release.inputs import model_card, shap_table
from cd.release.notes import render_model_card
from tests.gates.conftest import ChurnRegistry, open_pr, set_version
from tests.helpers import PROJECT_ROOT, GitRepo, as_experiment, run_modelcd


def test_a_better_version_passes(churn_repo: GitRepo, churn_registry: ChurnRegistry) -> None:
    v = churn_registry.versions
    open_pr(churn_repo, v["baseline"], v["better"])
    verdict = evaluate_promotion(
        churn_repo.path, "staging", "churn", "main", "pr", Registry(churn_registry.tracking_uri)
    )
    assert verdict.verdict == "pass", [c for c in verdict.checks if c.outcome != "pass"]
    assert (verdict.candidate.version, verdict.incumbent and verdict.incumbent.version) == (
        v["better"],
        v["baseline"],
    )
    # nothing blocks; the slices too small to confirm their tolerance are underpowered, not passed
    assert {c.outcome for c in verdict.checks} <= {"pass", "underpowered"}
    assert all(
        c.mde is not None and c.mde > abs(c.allowed_delta or 0) for c in verdict.checks_with("underpowered")
    )
    assert verdict.dataset.sha256 == TEST_SHA256 and verdict.dataset.pinned
    assert verdict.gate.status == "unchanged" and verdict.notes == ()
    assert len(verdict.candidate.sha256) == 64 and verdict.candidate.sha256 != verdict.incumbent.sha256  # type: ignore[union-attr]


def test_a_version_worse_on_premium_fails_naming_the_slice_and_the_numbers(
    churn_repo: GitRepo, churn_registry: ChurnRegistry
) -> None:
    v = churn_registry.versions
    open_pr(churn_repo, v["better"], v["worse_on_premium"])
    verdict = evaluate_promotion(
        churn_repo.path, "staging", "churn", "main", "pr", Registry(churn_registry.tracking_uri)
    )
    assert verdict.verdict == "fail"
    failed = {(c.metric, c.slice) for c in verdict.checks_with("fail")}
    assert ("roc_auc", "plan=premium") in failed
    assert not {s for _, s in failed} & {"plan=basic", "plan=standard", "overall"}
    premium = next(c for c in verdict.checks if (c.metric, c.slice) == ("roc_auc", "plan=premium"))
    assert premium.candidate.value < 0.7 < premium.incumbent.value  # type: ignore[union-attr]
    assert premium.delta is not None and premium.delta.high is not None and premium.delta.high < -0.01
    assert premium.reasons[0].startswith(f"roc_auc {premium.candidate.value:.4g} (CI ")
    assert premium.reasons[0].endswith("below min 0.7")


def test_a_pr_that_lowers_its_threshold_is_still_judged_by_the_base_gate(
    churn_repo: GitRepo, churn_registry: ChurnRegistry
) -> None:
    v = churn_registry.versions
    set_version(churn_repo, "staging", v["better"])
    churn_repo.commit("staging at better")
    churn_repo.git("checkout", "-q", "-b", "pr")
    gate = churn_repo.read("gates/churn.yaml")
    lowered = gate.replace(
        "value: {min: 0.70}\n    change: {absolute: 0.01}", "value: {min: 0.50}\n    change: {absolute: 0.50}"
    )
    assert lowered != gate
    churn_repo.write("gates/churn.yaml", lowered.replace("slices: [overall, plan]", "slices: [overall]"))
    set_version(churn_repo, "staging", v["worse_on_premium"])
    churn_repo.commit("promote worse, lower the bar")
    verdict = evaluate_promotion(
        churn_repo.path, "staging", "churn", "main", "pr", Registry(churn_registry.tracking_uri)
    )
    assert verdict.verdict == "fail"
    assert verdict.gate.status == "changed_in_pr" and verdict.gate.ref == "main"
    assert verdict.notes[0] == (
        "gates/churn.yaml is changed by this pull request: judged by the base version (main); "
        "the gate change needs its own review"
    )
    premium = next(c for c in verdict.checks if (c.metric, c.slice) == ("roc_auc", "plan=premium"))
    assert (premium.value_threshold and premium.value_threshold.min, premium.outcome) == (0.70, "fail")


def test_a_new_gate_is_used_from_the_head_and_flagged_and_first_deploy_judges_values_only(
    churn_repo: GitRepo, churn_registry: ChurnRegistry
) -> None:
    v = churn_registry.versions
    gate = churn_repo.read("gates/churn.yaml")
    churn_repo.remove("gates/churn.yaml")
    set_version(churn_repo, "staging", None)
    set_version(churn_repo, "production", None)
    churn_repo.commit("no churn anywhere yet")
    churn_repo.git("checkout", "-q", "-b", "pr")
    churn_repo.write("gates/churn.yaml", gate)
    churn_repo.write(
        "environments/staging.yaml",
        churn_repo.read("environments/staging.yaml").replace(
            "models: {}\n", f"models:\n  churn:\n    version: {v['better']}\n"
        ),
    )
    churn_repo.commit("first deploy of churn")
    verdict = evaluate_promotion(
        churn_repo.path, "staging", "churn", "main", "pr", Registry(churn_registry.tracking_uri)
    )
    assert verdict.gate.status == "new_in_pr"
    assert verdict.notes[0].startswith(
        "new gate, needs review: gates/churn.yaml does not exist at the base (main)"
    )
    assert verdict.incumbent is None
    assert verdict.verdict == "pass"
    skipped = {c.metric for c in verdict.checks_with("skipped")}
    assert skipped == {"pr_auc"}  # change-only check: not applicable without an incumbent
    assert all(c.delta is None for c in verdict.checks)


def test_a_version_missing_from_the_registry_is_a_clear_error(
    churn_repo: GitRepo, churn_registry: ChurnRegistry
) -> None:
    open_pr(churn_repo, churn_registry.versions["baseline"], 99)
    with pytest.raises(
        RegistryError, match=r"^model 'churn' version 99: not found in the MLflow registry at sqlite:///"
    ):
        evaluate_promotion(
            churn_repo.path, "staging", "churn", "main", "pr", Registry(churn_registry.tracking_uri)
        )


def test_cli_fails_with_exit_1_writes_json_markdown_and_the_job_summary(
    churn_repo: GitRepo, churn_registry: ChurnRegistry, tmp_path: Path
) -> None:
    v = churn_registry.versions
    open_pr(churn_repo, v["better"], v["worse_on_premium"])
    summary = tmp_path / "summary.md"
    out = tmp_path / "out"
    result = run_modelcd(
        "gate",
        "--env",
        "staging",
        "--model",
        "churn",
        "--base",
        "main",
        "--head",
        "pr",
        "--out",
        str(out),
        cwd=churn_repo.path,
        env={"MLFLOW_TRACKING_URI": churn_registry.tracking_uri, "GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert result.returncode == 1, result.stderr
    assert "Downloading artifacts" not in result.stderr  # MLflow's tqdm bars would fill the Actions log
    assert result.stdout.startswith(f"FAIL: churn v{v['worse_on_premium']} vs v{v['better']} in staging (")
    assert "FAIL         roc_auc on plan=premium" in result.stdout
    stem = f"gate-staging-churn-v{v['worse_on_premium']}"
    data = json.loads((out / f"{stem}.json").read_text())
    assert (data["schema"], data["schema_version"], data["verdict"]) == ("modelcd/gate-verdict", 1, "fail")
    markdown = (out / f"{stem}.md").read_text()
    assert markdown == summary.read_text().rstrip("\n") + "\n"
    assert "## ❌ Gate FAIL" in markdown
    assert "- ❌ **roc_auc** on **plan=premium**: roc_auc " in markdown
    assert "```mermaid\nxychart-beta\n" in markdown


def test_cli_exit_zero_records_a_failing_verdict_without_failing(
    churn_repo: GitRepo, churn_registry: ChurnRegistry, tmp_path: Path
) -> None:
    v = churn_registry.versions
    open_pr(churn_repo, v["better"], v["worse_on_premium"])
    result = run_modelcd(
        "gate", "--env", "staging", "--model", "churn", "--base", "main", "--head", "pr",
        "--out", str(tmp_path), "--exit-zero",
        cwd=churn_repo.path, env={"MLFLOW_TRACKING_URI": churn_registry.tracking_uri},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("FAIL: ")
    assert "gate did not pass; exiting 0 as --exit-zero asks" in result.stderr
    verdict = json.loads((tmp_path / f"gate-staging-churn-v{v['worse_on_premium']}.json").read_text())
    assert verdict["verdict"] == "fail"


def test_cli_all_judges_every_promotion_in_the_plan_and_passes(
    churn_repo: GitRepo, churn_registry: ChurnRegistry
) -> None:
    v = churn_registry.versions
    open_pr(churn_repo, v["baseline"], v["better"])
    result = run_modelcd(
        "gate",
        "--all",
        "--base",
        "main",
        "--head",
        "pr",
        "--format",
        "json",
        cwd=churn_repo.path,
        env={"MLFLOW_TRACKING_URI": churn_registry.tracking_uri},
    )
    assert result.returncode == 0, result.stderr
    verdicts = json.loads(result.stdout)
    assert [(d["environment"], d["model"], d["verdict"]) for d in verdicts] == [("staging", "churn", "pass")]


def test_a_pr_that_rewrites_its_test_set_is_judged_with_the_base_rows(
    churn_repo: GitRepo, churn_registry: ChurnRegistry
) -> None:
    v = churn_registry.versions
    set_version(churn_repo, "staging", v["better"])
    churn_repo.commit("staging at better")
    churn_repo.git("checkout", "-q", "-b", "pr")
    rows = churn_repo.read("data/churn_test.csv").splitlines(keepends=True)
    churn_repo.write("data/churn_test.csv", "".join(r for r in rows if ",premium," not in r))
    churn_repo.write("gates/churn.yaml", re.sub(r"\n  sha256: .*", "", churn_repo.read("gates/churn.yaml")))
    set_version(churn_repo, "staging", v["worse_on_premium"])
    churn_repo.commit("promote worse, drop the rows that catch it")
    verdict = evaluate_promotion(
        churn_repo.path, "staging", "churn", "main", "pr", Registry(churn_registry.tracking_uri)
    )
    assert verdict.verdict == "fail"
    assert ("roc_auc", "plan=premium") in {(c.metric, c.slice) for c in verdict.checks_with("fail")}
    assert verdict.dataset.sha256 == TEST_SHA256 and verdict.dataset.changed_in_pr
    assert (
        "dataset data/churn_test.csv is changed by this pull request: judged with the base's version (main); "
        "the data change needs its own review"
    ) in verdict.notes


def test_a_pr_that_swaps_the_registered_model_is_flagged_and_judged_by_the_base(
    churn_repo: GitRepo, churn_registry: ChurnRegistry
) -> None:
    v = churn_registry.versions
    open_pr(churn_repo, v["baseline"], v["better"])
    churn_repo.write(
        "models/churn/model.yaml",
        churn_repo.read("models/churn/model.yaml").replace(
            "registered_model: churn", "registered_model: other"
        ),
    )
    churn_repo.commit("swap the registered model")
    verdict = evaluate_promotion(
        churn_repo.path, "staging", "churn", "main", "pr", Registry(churn_registry.tracking_uri)
    )
    assert verdict.candidate.name == "churn"  # resolved through the base's model.yaml
    assert any(
        n.startswith(
            "models/churn/model.yaml is changed by this pull request (registered_model 'churn' -> 'other')"
        )
        for n in verdict.notes
    )
    assert len(verdict.gate.sha256) == 64


def test_gate_power_sizes_every_check_with_the_running_version_and_no_candidate(
    churn_repo: GitRepo, churn_registry: ChurnRegistry
) -> None:
    from cd.gates.family import minimum_detectable
    from cd.gates.power import power_table
    from cd.workspace import Workspace

    done = run_modelcd(
        "gate", "--env", "staging", "--model", "churn", "--power",
        cwd=churn_repo.path, env={"MLFLOW_TRACKING_URI": churn_registry.tracking_uri},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert re.match(
        r"power of the churn gate on \d+ rows, scored with v\d+ \(running in staging\)", done.stdout
    )
    assert re.search(r"^\d+ of \d+ checks underpowered \(MDE > tolerance\)$", done.stdout, re.MULTILINE)

    ws = Workspace.find(churn_repo.path, environ={"MLFLOW_TRACKING_URI": churn_registry.tracking_uri})
    table = power_table(ws, "staging", "churn", "HEAD")
    assert table.version == churn_registry.versions["baseline"]
    for row in table.entries:
        if row.tolerance is not None and row.se is not None:
            assert row.mde == pytest.approx(minimum_detectable(2**0.5 * row.se, table.alpha))
            assert row.underpowered == (row.mde is not None and row.mde > row.tolerance)


def test_gate_power_without_an_environment_is_a_usage_error(churn_repo: GitRepo) -> None:
    done = run_modelcd("gate", "--model", "churn", "--power", cwd=churn_repo.path)
    assert (done.returncode, done.stderr.strip()) == (2, "error: --power needs --env and --model")


def test_the_gate_report_and_model_card_show_both_versions_shap_values(
    churn_repo: GitRepo, churn_registry: ChurnRegistry
) -> None:
    gate = churn_repo.read("gates/churn.yaml")
    churn_repo.write(
        "gates/churn.yaml", gate + "importance: {rows: 500, repeats: 1, shap: {rows: 10, background: 10}}\n"
    )
    v = churn_registry.versions
    open_pr(churn_repo, v["baseline"], v["better"])
    verdict = evaluate_promotion(
        churn_repo.path, "staging", "churn", "main", "pr", Registry(churn_registry.tracking_uri)
    )
    assert verdict.importance is not None
    summary = verdict.importance.shap
    assert summary is not None and (summary.rows, summary.background, summary.seed) == (10, 10, 7)
    assert summary.incumbent is not None and summary.seconds > 0
    md = render_markdown(verdict)
    assert "### Why: SHAP values" in md and "(permutation explainer, 10 background rows, seed 7," in md
    assert f"Why v{v['better']} scores these rows highest" in md
    assert f"- row {summary.flagged[0].row} (score {summary.flagged[0].score:.3f}): " in md
    feature, cand, inc = summary.top()[0]
    assert inc is not None
    assert f"| {feature} | {cand:.4f} | {inc:.4f} | {cand - inc:+.4f} |" in md
    assert shap_table(verdict.to_dict())[0] == (feature, f"{cand:.4f}", f"{inc:.4f}", f"{cand - inc:+.4f}")
    card = render_model_card(model_card("churn", v["better"], None, None, {}, None, verdict.to_dict()))
    assert "## What moves its scores (mean |SHAP value|)" in card
    assert f"| `{feature}` | {cand:.4f} | {inc:.4f} | {cand - inc:+.4f} |" in card


def test_a_gate_asking_for_shap_without_shap_installed_exits_1_and_writes_no_verdict(
    churn_repo: GitRepo, churn_registry: ChurnRegistry, tmp_path: Path
) -> None:
    churn_repo.write("gates/churn.yaml", churn_repo.read("gates/churn.yaml") + "importance: {shap: true}\n")
    v = churn_registry.versions
    open_pr(churn_repo, v["baseline"], v["better"])
    hidden = tmp_path / "no-shap" / "shap"  # first on the path: `import shap` fails as if not installed
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('No module named shap')\n")
    out = tmp_path / "out"
    result = run_modelcd(
        "gate", "--env", "staging", "--model", "churn", "--base", "main", "--head", "pr", "--out", str(out),
        cwd=churn_repo.path,
        env={"MLFLOW_TRACKING_URI": churn_registry.tracking_uri, "PYTHONPATH": f"{hidden.parent}{os.pathsep}{PROJECT_ROOT}"},
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().endswith(
        "error: importance.shap needs the shap package, which is not installed: install modelcd's `explain` "
        "extra (pip install 'modelcd[explain]'), or remove importance.shap from the gate"
    )
    assert not out.exists() or list(out.iterdir()) == []


def _three_way_pr(repo: GitRepo, stable: int, version: int, challenger: int) -> None:
    """`main` runs `stable` in staging; branch `pr` makes staging an experiment of `version` and the
    challenger `challenger` against it."""
    set_version(repo, "staging", stable)
    repo.commit(f"staging at v{stable}")
    repo.git("checkout", "-q", "-b", "pr")
    path = "environments/staging.yaml"
    repo.write(path, as_experiment(repo.read(path), (challenger,), version=version))
    repo.commit("staging: an experiment")


def test_gate_all_judges_each_challenger_against_the_incumbent_as_its_own_promotion(
    churn_repo: GitRepo, churn_registry: ChurnRegistry, tmp_path: Path
) -> None:
    v = churn_registry.versions
    _three_way_pr(churn_repo, v["baseline"], v["better"], v["worse_on_premium"])
    out = tmp_path / "verdicts"
    result = run_modelcd(
        "gate", "--all", "--base", "main", "--head", "pr", "--format", "json", "--out", str(out),
        cwd=churn_repo.path, env={"MLFLOW_TRACKING_URI": churn_registry.tracking_uri},
    )  # fmt: skip
    assert result.returncode == 1, result.stderr  # the challenger fails on premium: the PR is blocked
    verdicts = json.loads(result.stdout)
    assert [(d["candidate"]["version"], d["incumbent"]["version"], d["verdict"]) for d in verdicts] == [
        (v["better"], v["baseline"], "pass"),
        (v["worse_on_premium"], v["baseline"], "fail"),
    ]
    assert [d.get("challenger", False) for d in verdicts] == [False, True]
    assert sorted(p.name for p in out.glob("*.json")) == sorted(
        f"gate-staging-churn-v{n}.json" for n in (v["better"], v["worse_on_premium"])
    )
    assert verdicts[1]["summary"].startswith(
        f"churn v{v['worse_on_premium']} (challenger) vs v{v['baseline']}"
    )


def test_gate_of_a_version_git_does_not_ask_for_is_refused(
    churn_repo: GitRepo, churn_registry: ChurnRegistry, tmp_path: Path
) -> None:
    v = churn_registry.versions
    _three_way_pr(churn_repo, v["baseline"], v["better"], v["worse_on_premium"])
    out = tmp_path / "verdicts"
    result = run_modelcd(
        "gate", "--env", "staging", "--model", "churn", "--version", "99", "--base", "main", "--head", "pr",
        "--out", str(out),
        cwd=churn_repo.path, env={"MLFLOW_TRACKING_URI": churn_registry.tracking_uri},
    )  # fmt: skip
    assert not out.exists()  # no verdict is written
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        f"environments/staging.yaml: churn in staging at pr asks for v{v['better']}, v{v['worse_on_premium']}, "
        "not v99: the gate judges what git asks for"
    )

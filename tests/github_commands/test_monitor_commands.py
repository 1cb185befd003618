"""`modelcd monitor` as a process: captured traffic of a local environment against a reference; one issue
per drifted model in the GitHub API double, closed when the traffic is back in line."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

from cd.examples.churn import FEATURES, generate
from cd.monitor.capture import CAPTURE_DIR, Exchange, capture_path, capture_record
from tests.github_commands.conftest import make_cli
from tests.github_double import GitHubDouble
from tests.helpers import GitRepo, run_modelcd
from tests.workflows.events import REPO, workflow_dispatch_event

LAB = """name: lab
target: {kind: local, endpoint_prefix: lab}
rollout:
  steps:
    - set_weight: 100
monitoring:
  capture: {sampling_percentage: 100}
  drift: {min_rows: 300, window: 2h}
models:
  churn:
    version: 2
"""
ENDPOINT = "lab-churn"


@pytest.fixture
def lab(template_repo: GitRepo) -> GitRepo:
    (template_repo.path / "environments" / "lab.yaml").write_text(LAB)
    reference = generate(3000, 11)[list(FEATURES)]
    reference["modelcd_score"] = (reference["tenure_months"] / 80.0).round(4)  # the version's scores
    reference.to_csv(template_repo.path / "reference.csv", index=False)
    template_repo.commit("a local lab environment")
    return template_repo


def capture(
    repo: GitRepo, *, rows: int = 1500, charge_shift: float = 0.0, name: str = "part", seed: int = 5
) -> Path:
    frame = generate(rows, seed)[list(FEATURES)]
    frame["monthly_charges"] = (frame["monthly_charges"] + charge_shift).round(2)
    at = time.time() - 60
    path = capture_path(repo.path / ".modelcd" / "local" / CAPTURE_DIR, ENDPOINT, "v2", at, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, row in enumerate(frame.to_dict(orient="records")):
        p = round(row["tenure_months"] / 80.0, 4)
        answer = json.dumps(
            {"predictions": [p > 0.5], "probabilities": [[1 - p, p]], "classes": [False, True]}
        )
        exchange = Exchange(
            ENDPOINT,
            "v2",
            2,
            json.dumps([row]).encode(),
            "application/json",
            answer.encode(),
            "application/json",
            at,
            f"i-{i}",
        )
        lines.append(json.dumps(capture_record(exchange)))
    path.write_text("\n".join(lines) + "\n")
    return path


def monitor(repo: GitRepo, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return run_modelcd(
        "monitor", "--env", "lab", "--reference", "reference.csv", *args, cwd=repo.path, env=env
    )


def test_a_drifted_feature_is_named_with_its_numbers_and_exits_1(lab: GitRepo) -> None:
    capture(lab, charge_shift=25.0)
    done = monitor(lab)
    assert done.returncode == 1, done.stderr
    first = done.stdout.splitlines()[0]
    assert first == "DRIFT: churn in lab: monthly_charges (1500 rows in 1500 requests)"
    line = next(x for x in done.stdout.splitlines() if x.strip().startswith("monthly_charges:"))
    assert "KS D 0." in line and "PSI " in line and "1500 live vs 3000 reference rows" in line


def test_stable_traffic_exits_0_and_the_json_has_every_feature_and_the_prediction(lab: GitRepo) -> None:
    capture(lab)
    done = monitor(lab, "--format", "json")
    assert done.returncode == 0, done.stderr
    [report] = json.loads(done.stdout)
    assert report["outcome"] == "stable" and report["rows"] == 1500
    [variant] = report["variants"]
    assert [f["feature"] for f in variant["features"]] == list(FEATURES)
    assert variant["prediction"]["test"] == "ks" and variant["prediction"]["outcome"] == "stable"


def test_markdown_and_html_are_written_with_a_histogram_of_the_drifted_feature(
    lab: GitRepo, tmp_path: Path
) -> None:
    capture(lab, charge_shift=25.0)
    out = tmp_path / "reports"
    done = monitor(lab, "--format", "markdown", "--out", str(out))
    assert done.returncode == 1
    assert '```mermaid\nxychart-beta\n    title "monthly_charges: v2 vs the reference"' in done.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        f"monitor-lab-churn.{ext}" for ext in ("html", "json", "md")
    ]
    assert "<svg" in (out / "monitor-lab-churn.html").read_text()


def test_inside_actions_each_drifted_feature_is_a_warning_on_the_environment_file(
    lab: GitRepo, tmp_path: Path
) -> None:
    capture(lab, charge_shift=25.0)
    summary = tmp_path / "summary.md"
    done = monitor(lab, env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert "::warning file=environments/lab.yaml,title=drift%3A churn monthly_charges in lab::" in done.stdout
    assert summary.read_text().startswith("## ❌ Monitor: `churn` in lab")


def test_an_empty_window_says_where_it_looked_and_is_not_enough_data(lab: GitRepo) -> None:
    done = monitor(lab)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("NOT ENOUGH DATA: churn in lab")
    assert (
        f"note: no captured requests at {lab.path}/.modelcd/local/capture/{ENDPOINT} between" in done.stdout
    )


def test_bad_lines_are_counted_and_reported_not_fatal(lab: GitRepo) -> None:
    path = capture(lab)
    with path.open("a") as f:
        f.write("{truncated\n")
    done = monitor(lab)
    assert done.returncode == 0, done.stderr
    assert "unreadable: 1 lines, 0 request bodies (skipped, counted)" in done.stdout
    assert f"{path}:1501: not JSON" in done.stdout


def test_an_environment_without_capture_is_refused_naming_the_file(template_repo: GitRepo) -> None:
    (template_repo.path / "environments" / "lab.yaml").write_text(
        LAB.replace("  capture: {sampling_percentage: 100}\n", "")
    )
    done = run_modelcd("monitor", "--env", "lab", cwd=template_repo.path)
    assert done.returncode == 1
    assert "environments/lab.yaml: monitoring.capture is not set" in done.stderr


def test_a_reference_without_a_model_input_is_refused(lab: GitRepo) -> None:
    pd.DataFrame({"plan": ["basic"]}).to_csv(lab.path / "thin.csv", index=False)
    capture(lab)
    done = run_modelcd("monitor", "--env", "lab", "--reference", "thin.csv", cwd=lab.path)
    assert done.returncode == 1
    assert "reference thin.csv: no column tenure_months, monthly_charges" in done.stderr


def test_monitor_opens_one_issue_per_drifted_model_and_closes_it_when_resolved(
    github_double: GitHubDouble, lab: GitRepo, tmp_path: Path
) -> None:
    github_double.create_repo(REPO)
    cli = make_cli(github_double, tmp_path, "workflow_dispatch", workflow_dispatch_event({}), lab.path)
    drifted = capture(lab, charge_shift=25.0)
    first = cli("monitor", "--env", "lab", "--reference", "reference.csv", "--issues")
    assert first.returncode == 1, first.stderr
    (issue,) = [i for i in github_double.repo(REPO).issues.values() if "modelcd-data-drift" in i.labels]
    assert issue.state == "open" and issue.title == "modelcd: live inputs of churn in lab have drifted"
    assert "<!-- modelcd:data-drift env=lab model=churn -->" in (issue.body or "") and "monthly_charges" in (
        issue.body or ""
    )
    drifted.unlink()
    capture(lab, name="later")
    second = cli("monitor", "--env", "lab", "--reference", "reference.csv", "--issues")
    assert second.returncode == 0, second.stderr
    assert issue.state == "closed" and "Resolved: the live traffic of **churn** in **lab**" in (
        issue.body or ""
    )


def test_labels_arriving_in_the_ground_truth_give_live_quality_without_a_labels_file(lab: GitRepo) -> None:
    env_file = lab.path / "environments" / "lab.yaml"
    env_file.write_text(env_file.read_text().replace("  drift:", "  ground_truth: {}\n  drift:"))
    lab.commit("labels arrive for the lab")
    capture(lab)
    frame = generate(1500, 5)
    hour = time.strftime("%Y/%m/%d/%H", time.gmtime(time.time() - 30))
    path = lab.path / ".modelcd" / "local" / "ground-truth" / hour / "labels.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(
        "".join(
            json.dumps({"groundTruthData": {"data": str(int(y)), "encoding": "CSV"},
                        "eventMetadata": {"eventId": f"i-{i}"}, "eventVersion": "0"}) + "\n"
            for i, y in enumerate(frame["churned"])
        )
    )  # fmt: skip
    done = monitor(lab, "--format", "json", "--exit-zero")
    assert done.returncode == 0, done.stderr
    [quality] = json.loads(done.stdout)[0]["quality"]
    assert (quality["variant"], quality["labelled_rows"]) == ("v2", 1500)
    assert "roc_auc" in {f["metric"] for f in quality["figures"]}


def test_a_bad_window_is_a_usage_error_naming_the_fix(lab: GitRepo) -> None:
    done = monitor(lab, "--since", "five minutes")
    assert done.returncode == 2
    assert "--since 'five minutes': give a duration such as 30m, 6h or 1h30m" in done.stderr


def test_experiment_on_an_environment_without_one_is_refused(lab: GitRepo) -> None:
    done = run_modelcd("experiment", "--env", "lab", "--model", "churn", cwd=lab.path)
    assert done.returncode == 1
    assert "environments/lab.yaml: churn in lab runs no experiment (strategy: experiment)" in done.stderr


def test_experiment_without_a_model_says_when_nothing_runs(lab: GitRepo) -> None:
    done = run_modelcd("experiment", "--env", "lab", cwd=lab.path)
    assert (done.returncode, done.stdout) == (0, "no experiment is running in lab\n")

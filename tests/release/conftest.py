from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from cd.github.api import GitHubClient
from cd.github.ratelimit import RetryPolicy
from cd.release.model import Approval, ModelCard, ReleaseInputs
from tests.github_api.conftest import FakeClock
from tests.github_double import GitHubDouble

REPO = "acme/models"


def _check(slice_: str, candidate: float, incumbent: float) -> dict[str, object]:
    return {
        "metric": "roc_auc",
        "higher_is_better": True,
        "slice": slice_,
        "candidate": {"value": candidate, "ci_low": candidate - 0.02, "ci_high": candidate + 0.02},
        "incumbent": {"value": incumbent, "ci_low": incumbent - 0.02, "ci_high": incumbent + 0.02},
        "delta": {"value": candidate - incumbent, "ci_low": 0.0, "ci_high": 0.02},
        "thresholds": {"value": {"min": 0.7, "max": None}, "change": None, "allowed_delta": None},
        "outcome": "pass",
    }


VERDICT = {
    "verdict": "pass",
    "summary": "candidate v2 beats incumbent v1 on every gated metric",
    "environment": "staging",
    "model": "churn",
    "candidate": {"name": "churn", "version": 2, "sha256": "a" * 64},
    "checks": [_check("overall", 0.912, 0.9), _check("plan=basic", 0.88, 0.87)],
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def double(github_double: GitHubDouble) -> GitHubDouble:
    github_double.create_repo(REPO)
    return github_double


@pytest.fixture
def client(double: GitHubDouble, clock: FakeClock) -> GitHubClient:
    return GitHubClient.from_env(double.env(REPO), retry=RetryPolicy(sleep=clock.sleep, clock=clock.time))


@pytest.fixture
def inputs(tmp_path: Path, double: GitHubDouble) -> ReleaseInputs:
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    bento = artifacts / "churn-v2.bento"
    bento.write_bytes(bytes(range(256)) * 1200)  # 300 KiB
    verdict = artifacts / "verdict.json"
    verdict.write_text(json.dumps(VERDICT))
    report = artifacts / "report.md"
    report.write_text("# Gate report\n\nroc_auc overall 0.912 (0.90 .. 0.93)\n")
    card = ModelCard(
        model="churn",
        version=2,
        registered_model="churn",
        task="binary_classification",
        description="Gradient-boosted churn classifier.",
        owners=("@ml-team",),
        inputs=(("tenure_months", "integer"), ("plan", "string")),
        run_id="0123456789abcdef",
        source="mlflow-artifacts:/1/0123456789abcdef/artifacts/model",
        model_sha256="a" * 64,
        params={"n_estimators": "200", "max_depth": "3"},
        metrics={"val_roc_auc": 0.9134},
        data_sha256={"data/churn-eval.csv": "d" * 64},
    )
    return ReleaseInputs(
        model="churn",
        version=2,
        target_commit=double.repo(REPO).refs["heads/main"],
        card=card,
        environment="staging",
        verdict=VERDICT,
        verdict_path=verdict,
        report_path=report,
        bento_path=bento,
        build_record={
            "bento_tag": "churn:v2-aaaaaaaaaaaa",
            "image_digest": "123.dkr.ecr/modelcd@sha256:" + "b" * 64,
        },
        plan_entry="staging: churn v1 -> v2",
        approvals=(Approval("rui", "APPROVED", "c" * 40, True),),
        pull_number=7,
        run_url="https://github.example/acme/models/actions/runs/1",
        now="2025-01-02T03:04:05Z",
    )


def in_production(inputs: ReleaseInputs, now: str = "2025-01-09T00:00:00Z") -> ReleaseInputs:
    return replace(inputs, environment="production", now=now, plan_entry="production: churn v1 -> v2")

"""Desired (git) against observed (endpoint): version, weights, instance settings."""

from __future__ import annotations

from cd.config import load_repo
from cd.drift import Finding, environment_drift, live_version, render_drift
from cd.rollout.target import ObservedEndpoint, ObservedVariant
from tests.helpers import PROJECT_ROOT

PRODUCTION = load_repo(PROJECT_ROOT).environments["production"]  # churn v1 on 2 x ml.m5.xlarge


def _variant(
    version: int, weight: float, instance_type: str = "ml.m5.xlarge", count: int = 2
) -> ObservedVariant:
    return ObservedVariant(f"v{version}", version, "img@sha256:x", weight, weight, instance_type, count)


def _endpoint(*variants: ObservedVariant, status: str = "InService") -> ObservedEndpoint:
    return ObservedEndpoint("modelcd-production-churn", status, "cfg", variants)  # type: ignore[arg-type]


def test_an_endpoint_serving_git_is_in_sync() -> None:
    drift = environment_drift(PRODUCTION, {"churn": _endpoint(_variant(1, 1.0))})
    assert (drift.drifted, drift.findings) == (False, ())
    assert render_drift(drift) == "**production**: in sync with git.\n"


def test_another_live_version_is_drift() -> None:
    drift = environment_drift(PRODUCTION, {"churn": _endpoint(_variant(2, 100.0))})
    assert drift.findings == (Finding("churn", "version", "v1", "v2"),)


def test_a_traffic_split_is_drift() -> None:
    drift = environment_drift(PRODUCTION, {"churn": _endpoint(_variant(1, 90), _variant(2, 10))})
    assert drift.findings == (Finding("churn", "weights", "v1 100%", "v1 90%, v2 10%"),)


def test_instance_settings_are_compared() -> None:
    drift = environment_drift(PRODUCTION, {"churn": _endpoint(_variant(1, 1.0, "ml.m5.large", 1))})
    assert drift.findings == (
        Finding("churn", "instance_type", "ml.m5.xlarge", "ml.m5.large"),
        Finding("churn", "instance_count", "2", "1"),
    )


def test_a_missing_endpoint_is_drift() -> None:
    drift = environment_drift(PRODUCTION, {})
    assert drift.findings == (
        Finding("churn", "endpoint", "modelcd-production-churn serving v1", "does not exist"),
    )


def test_an_updating_endpoint_is_a_rollout_in_progress_not_drift() -> None:
    drift = environment_drift(
        PRODUCTION, {"churn": _endpoint(_variant(1, 50), _variant(2, 50), status="Updating")}
    )
    assert drift.drifted is False
    assert "rollout in progress" in render_drift(drift)


def test_a_failed_endpoint_is_drift() -> None:
    failed = ObservedEndpoint("e", "Failed", "cfg", (), failure_reason="image pull failed")
    assert environment_drift(PRODUCTION, {"churn": failed}).findings == (
        Finding("churn", "status", "InService", "Failed: image pull failed"),
    )


def test_live_version_needs_all_traffic_on_an_in_service_endpoint() -> None:
    assert live_version(_endpoint(_variant(3, 1.0))) == 3
    assert live_version(_endpoint(_variant(3, 60), _variant(4, 40))) is None
    assert live_version(_endpoint(_variant(3, 1.0), status="Updating")) is None
    assert live_version(None) is None


def test_drift_renders_a_table() -> None:
    drift = environment_drift(PRODUCTION, {"churn": _endpoint(_variant(2, 1.0))})
    assert render_drift(drift) == (
        "**production**: drifted from git.\n\n| model | field | git | actual |\n| --- | --- | --- | --- |\n"
        "| churn | version | v1 | v2 |\n"
    )

"""`strategy: sagemaker_canary|linear` on moto: SageMaker shifts by itself, so the rollout survives the job."""

from __future__ import annotations

import pytest

from cd.config.model import Bake, RolloutPolicy, SetWeight
from cd.rollout.record import decode
from cd.rollout.sagemaker import error_alarm_name, native_deployment_config
from tests.rollout.conftest import ENDPOINT, POLICY, Faults, Killed, World

CANARY = RolloutPolicy(
    strategy="sagemaker_canary", steps=(SetWeight(10), Bake(300), SetWeight(100)), analysis=POLICY
)


def updates(faults: Faults) -> list[dict]:
    return [body for op, body in faults.accepted if op == "UpdateEndpoint"]


def test_sagemaker_shifts_the_canary_itself_and_the_rollout_completes(live_v1: World, faults: Faults) -> None:
    w = live_v1
    report = w.deploy(2, policy=CANARY)
    assert report.outcome == "succeeded", report.to_markdown()
    assert w.live() == {"v2": 100.0}
    [update] = updates(faults)
    alarm = error_alarm_name(ENDPOINT, "v2")
    assert update["DeploymentConfig"] == native_deployment_config(CANARY.native, (alarm,))  # type: ignore[arg-type]
    routing = update["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {
        "Type": "CANARY",
        "WaitIntervalInSeconds": 300,
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
    }
    assert faults.weight_requests() == []  # modelcd shifted nothing itself
    [created] = w.cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]  # type: ignore[attr-defined]
    assert (created["Threshold"], created["ComparisonOperator"]) == (
        POLICY.max_error_rate,
        "GreaterThanThreshold",
    )


def test_when_sagemaker_rolls_the_update_back_the_rollout_ends_rolled_back(live_v1: World) -> None:
    w = live_v1
    w.behaviour.next_update_outcomes = ["rollback"]
    report = w.deploy(2, policy=CANARY)
    assert report.outcome == "rolled_back", report.to_markdown()
    assert "SageMaker rolled the update back: Update failed" in report.message
    assert w.live() == {"v1": 100.0}
    state = decode(w.tags())
    assert state is not None and state.phase == "rolled_back"


def test_the_shift_goes_on_when_the_job_dies_and_a_later_run_records_it(
    live_v1: World, faults: Faults
) -> None:
    w = live_v1
    w.behaviour.transitional_describes = 3
    faults.kill_on = "UpdateEndpoint"  # the job dies right after SageMaker accepted the update
    with pytest.raises(Killed):
        w.deploy(2, owner="gh:acme/models:7:1", policy=CANARY)
    for _ in range(4):
        w.target.observe(ENDPOINT)  # nobody runs modelcd: SageMaker finishes on its own
    assert w.live() == {"v2": 100.0}
    report = w.deploy(2, owner="gh:acme/models:7:2", policy=CANARY)  # the re-run (or reconcile)
    assert report.outcome == "succeeded", report.to_markdown()
    assert len(updates(faults)) == 1  # the update was never issued twice


def test_linear_steps_become_sagemakers_linear_routing() -> None:
    linear = RolloutPolicy(
        strategy="sagemaker_linear",
        steps=(SetWeight(25), Bake(120), SetWeight(50), Bake(120), SetWeight(75), Bake(120), SetWeight(100)),
        analysis=POLICY,
    )
    assert linear.native is not None
    config = native_deployment_config(linear.native, ("a", "b"))
    assert config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"] == {
        "Type": "LINEAR",
        "WaitIntervalInSeconds": 120,
        "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25},
    }
    assert config["AutoRollbackConfiguration"] == {"Alarms": [{"AlarmName": "a"}, {"AlarmName": "b"}]}
    assert config["BlueGreenUpdatePolicy"]["MaximumExecutionTimeoutInSeconds"] == 3600

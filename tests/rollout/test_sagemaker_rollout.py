"""End-to-end rollouts on moto: the real controller, the real boto3 adapter, metrics in CloudWatch."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from cd.config.model import Analysis, Shadow
from cd.rollout.operate import abort, endpoint_status, resume
from cd.rollout.record import tag_text
from tests.rollout.conftest import ENDPOINT, POLICY, STEPS, Faults, Killed, VersionProfile, World


def test_first_deploy_creates_the_endpoint_with_the_version_alone(world: World) -> None:
    report = world.deploy(1)
    assert report.outcome == "succeeded"
    assert world.live() == {"v1": 100.0}
    assert world.tags()["modelcd:phase"] == "succeeded"
    assert world.aliases == [1]


def test_good_canary_goes_through_every_step_and_finalizes(live_v1: World) -> None:
    w = live_v1
    report = w.deploy(2)
    assert report.outcome == "succeeded", report.to_markdown()
    assert w.live() == {"v2": 100.0}
    actions = [d.action for d in report.decisions if d.action in ("ShiftTraffic", "Analysis", "Finalize")]
    once = [a for i, a in enumerate(actions) if i == 0 or a != actions[i - 1]]  # an extended step looks again
    assert once == [
        "ShiftTraffic",
        "Analysis",
        "ShiftTraffic",
        "Analysis",
        "ShiftTraffic",
        "Analysis",
        "Finalize",
    ]
    assert w.tags()["modelcd:phase"] == "succeeded"
    assert w.aliases == [2]


def test_bad_canary_rolls_back_with_the_numbers_in_the_record(live_v1: World, faults: Faults) -> None:
    w = live_v1
    w.traffic.behaviours["v2"] = VersionProfile(error_rate=0.05)
    report = w.deploy(2)
    assert report.outcome == "rolled_back"
    assert w.live() == {"v1": 100.0}
    assert w.tags()["modelcd:phase"] == "rolled_back"
    assert tag_text(w.tags()["modelcd:reason"]).startswith(
        "step 2/9 (bake, background analysis): error_rate: 5xx 12/240 = 5.00%, bounds [1.22%, 11.38%]"
    )
    assert "error_rate fail 0.05 e=2.05e+03" in tag_text(w.tags()["modelcd:evidence"])
    analyses = [d for d in report.decisions if d.action == "Analysis"]
    assert analyses[-1].analysis is not None and analyses[-1].analysis["phase"] == "Failed"
    assert analyses[-1].analysis["candidate"]["errors_5xx"] == 12.0
    assert faults.weight_requests() == [{"v2": 10.0, "v1": 90.0}, {"v1": 100.0, "v2": 0.0}]
    assert w.aliases == []


def test_rollback_restores_stable_before_removing_the_candidate(live_v1: World, faults: Faults) -> None:
    w = live_v1
    w.traffic.behaviours["v2"] = VersionProfile(error_rate=0.05)
    seen: list[dict[str, float]] = []
    faults.watchers.append(lambda op: seen.append(w.live()) if op == "UpdateEndpoint" else None)
    w.deploy(2)
    # the UpdateEndpoint that removes v2 is issued while v1 is verified at 100 % and v2 at 0 %
    assert seen[-1] == {"v1": 100.0, "v2": 0.0}
    assert [op for op, _ in faults.accepted if op.startswith("Update")] == [
        "UpdateEndpoint",
        "UpdateEndpointWeightsAndCapacities",
        "UpdateEndpointWeightsAndCapacities",
        "UpdateEndpoint",
    ]


def test_slow_canary_rolls_back_on_latency(live_v1: World) -> None:
    w = live_v1
    w.traffic.behaviours["v2"] = VersionProfile(latency_ms=150.0)
    report = w.deploy(2)
    assert report.outcome == "rolled_back"
    failed = [d for d in report.decisions if d.action == "Analysis"][-1]
    shown = "latency_ratio: Average: candidate above 1.50x stable in 11 of 11 paired minutes"
    assert shown in failed.message
    assert shown in report.message
    assert w.live() == {"v1": 100.0}


def test_too_quiet_canary_is_extended_then_rolled_back_only_when_the_policy_says_so(live_v1: World) -> None:
    w = live_v1
    w.traffic.rate = 0.1
    report = w.deploy(2)  # POLICY: on_inconclusive: rollback
    assert report.outcome == "rolled_back"
    held = [d for d in report.decisions if d.action == "Analysis"]
    assert {d.analysis["phase"] for d in held if d.analysis} == {"Inconclusive"}
    assert held[-1].at - held[0].at >= POLICY.max_extension - 60  # extended, looked at each minute
    reason = tag_text(w.tags()["modelcd:reason"])
    assert reason.startswith("step 3/9: analysis still Inconclusive after extending the step by 30 min: ")
    assert w.live() == {"v1": 100.0}


def test_too_quiet_canary_pauses_when_the_policy_says_so_and_resumes(live_v1: World) -> None:
    w = live_v1
    w.traffic.rate = 0.1
    pausing = replace(POLICY, on_inconclusive="pause")
    policy = replace(
        STEPS, steps=tuple(Analysis(pausing) if isinstance(s, Analysis) else s for s in STEPS.steps)
    )
    report = w.deploy(2, policy=policy)
    assert report.outcome == "paused"
    assert w.tags()["modelcd:phase"] == "paused" and w.tags()["modelcd:lease-owner"] == ""
    assert w.live() == {"v1": 90.0, "v2": 10.0}
    assert w.deploy(2, owner="run-2", policy=policy).outcome == "paused"  # a paused rollout holds
    resume(w.target, ENDPOINT, by="oncall", now=w.clock.now())
    w.traffic.rate = 20.0  # 2 candidate requests/s: 200 within the held analyses
    assert w.deploy(2, owner="run-3", policy=policy).outcome == "succeeded"
    assert w.live() == {"v2": 100.0}


def test_alarm_in_alarm_rolls_back(live_v1: World) -> None:
    w = live_v1
    w.cw.put_metric_alarm(  # type: ignore[attr-defined]
        AlarmName="churn-p99",
        MetricName="ModelLatency",
        Namespace="AWS/SageMaker",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=2,
        Threshold=1e6,
        ComparisonOperator="GreaterThanThreshold",
    )
    w.cw.set_alarm_state(AlarmName="churn-p99", StateValue="ALARM", StateReason="test")  # type: ignore[attr-defined]
    alarmed = replace(POLICY, alarms=("churn-p99",))
    policy = replace(STEPS, analysis=alarmed)
    report = w.deploy(2, policy=policy)
    assert report.outcome == "rolled_back"
    assert "alarms: in ALARM: churn-p99" in report.message, report.message


def test_rerun_after_success_is_a_noop(live_v1: World, faults: Faults) -> None:
    w = live_v1
    assert w.deploy(2).outcome == "succeeded"
    before = len(faults.accepted)
    report = w.deploy(2, owner="run-2")
    assert report.outcome == "noop"
    assert faults.accepted[before:] == []
    assert w.aliases == [2, 2]  # the alias converges on a no-op run too


def test_second_deploy_while_one_is_in_progress_refuses(live_v1: World, faults: Faults) -> None:
    w = live_v1
    faults.kill_on = "UpdateEndpoint"  # v2 added beside v1: a rollout is in progress
    with pytest.raises(Killed):
        w.deploy(2, owner="run-1")
    before = len(faults.accepted)
    report = w.deploy(2, owner="run-2")
    assert report.outcome == "refused"
    assert "leased by 'run-1'" in report.message
    assert faults.accepted[before:] == []


def test_expired_lease_is_taken_over_and_the_rollout_resumes(live_v1: World, faults: Faults) -> None:
    w = live_v1
    faults.kill_on = "UpdateEndpoint"
    with pytest.raises(Killed):
        w.deploy(2, owner="run-1")
    w.clock.sleep(STEPS.lease_seconds + 1)
    assert w.deploy(2, owner="run-2").outcome == "succeeded"


def test_abort_rolls_back_a_running_rollout(live_v1: World, faults: Faults) -> None:
    w = live_v1
    faults.kill_on = "UpdateEndpointWeightsAndCapacities"  # v2 at 10 %
    with pytest.raises(Killed):
        w.deploy(2, owner="run-1")
    abort(w.target, ENDPOINT, by="oncall")
    assert w.tags()["modelcd:phase"] == "rolling_back"
    report = w.deploy(2, owner="run-1")
    assert report.outcome == "rolled_back"
    assert "aborted by oncall" in report.message
    assert w.live() == {"v1": 100.0}


def test_status_shows_what_is_live_and_where_the_rollout_stands(live_v1: World, faults: Faults) -> None:
    w = live_v1
    faults.kill_on = "UpdateEndpointWeightsAndCapacities"
    with pytest.raises(Killed):
        w.deploy(2, owner="run-1")
    st = endpoint_status(w.target, ENDPOINT)
    assert st.exists and st.state is not None
    assert (st.state.phase, st.state.version, st.state.stable_version) == ("progressing", 2, 1)
    assert (st.status, st.weights) == ("Updating", {"v1": 100.0, "v2": 0.0})  # the shift is in flight
    settled = endpoint_status(w.target, ENDPOINT)
    assert (settled.status, settled.weights) == ("InService", {"v1": 90.0, "v2": 10.0})


SHADOWED = replace(STEPS, steps=(Shadow(300.0), *STEPS.steps))


def _shadow_configs(faults: Faults) -> list[dict[str, Any]]:
    return [
        b for op, b in faults.accepted if op == "CreateEndpointConfig" and b.get("ShadowProductionVariants")
    ]


def test_a_shadow_step_copies_every_request_to_the_candidate_before_it_answers_anyone(
    live_v1: World, faults: Faults
) -> None:
    w = live_v1
    report = w.deploy(2, policy=SHADOWED)
    assert report.outcome == "succeeded", report.to_markdown()
    (config,) = _shadow_configs(faults)
    assert [v["VariantName"] for v in config["ProductionVariants"]] == ["v1"]
    (shadow,) = config["ShadowProductionVariants"]
    assert shadow["VariantName"] == "v2"
    assert shadow["InitialVariantWeight"] == config["ProductionVariants"][0]["InitialVariantWeight"]
    assert [d.action for d in report.decisions][:2] == ["RecordState", "StartShadow"]
    assert w.live() == {"v2": 100.0}
    shadowed = next(d for d in report.decisions if d.message == "step 1/10: shadowed 300s")
    live = next(d for d in report.decisions if d.action == "StartShadow").at + 30  # Updating, one poll
    assert shadowed.at - live >= 300  # the step's clock starts once the shadow is live


def test_a_bad_candidate_is_rolled_back_from_shadow_having_answered_no_client(
    live_v1: World, faults: Faults
) -> None:
    w = live_v1
    w.traffic.behaviours["v2"] = VersionProfile(error_rate=0.05)
    report = w.deploy(2, policy=SHADOWED)
    assert report.outcome == "rolled_back"
    assert faults.weight_requests() == []  # v2 never had a production weight
    assert tag_text(w.tags()["modelcd:reason"]).startswith(
        "step 1/10 (shadow, background analysis): error_rate"
    )
    assert w.live() == {"v1": 100.0}
    assert w.target.observe(ENDPOINT).shadow is None  # type: ignore[union-attr]


def test_cleanup_reads_every_page_of_leftover_configs(live_v1: World) -> None:
    """ListEndpointConfigs answers 100 at most: leftovers beyond the first page were never deleted."""
    from cd.rollout.sagemaker import config_name
    from tests.rollout.conftest import spec

    w = live_v1
    model = w.sm.describe_endpoint_config(  # type: ignore[attr-defined]
        EndpointConfigName=w.sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]  # type: ignore[attr-defined]
    )["ProductionVariants"][0]["ModelName"]
    for i in range(120):  # configs of interrupted runs: ours by name, none live
        name = config_name(ENDPOINT, [spec(1)], {"v1": float(i + 1)})
        w.sm.create_endpoint_config(  # type: ignore[attr-defined]
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "v1",
                    "ModelName": model,
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
        )
    assert w.deploy(2).outcome == "succeeded"
    live = w.sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]  # type: ignore[attr-defined]
    left = w.sm.list_endpoint_configs(MaxResults=100)  # type: ignore[attr-defined]
    assert [c["EndpointConfigName"] for c in left["EndpointConfigs"]] == [live] and "NextToken" not in left


def test_every_endpoint_update_bakes_the_new_fleet_and_lets_aws_roll_back_on_the_alarms(
    live_v1: World, faults: Faults
) -> None:
    from cd.rollout.sagemaker import deployment_config

    w = live_v1
    w.target.alarms = ("modelcd-staging-churn-5xx",)
    assert w.deploy(2).outcome == "succeeded"
    updates = [body["DeploymentConfig"] for op, body in faults.accepted if op == "UpdateEndpoint"]
    assert len(updates) == 2  # add the candidate, then finalize onto it alone
    assert updates == [deployment_config(("modelcd-staging-churn-5xx",))] * 2
    policy = updates[1]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300}
    assert updates[1]["AutoRollbackConfiguration"] == {"Alarms": [{"AlarmName": "modelcd-staging-churn-5xx"}]}


def _scale(w: World, variant: str) -> object:
    import boto3

    from cd.rollout.sagemaker import SCALABLE_DIMENSION, scaling_resource

    aas = boto3.client("application-autoscaling", region_name="eu-west-1")
    resource = scaling_resource(ENDPOINT, variant)
    aas.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=resource,
        ScalableDimension=SCALABLE_DIMENSION,
        MinCapacity=1,
        MaxCapacity=4,
    )
    aas.put_scaling_policy(
        PolicyName="invocations-per-instance",
        ServiceNamespace="sagemaker",
        ResourceId=resource,
        ScalableDimension=SCALABLE_DIMENSION,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 70.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
        },
    )
    return aas


def test_the_candidate_takes_stables_auto_scaling_and_stable_is_deregistered_before_removal(
    live_v1: World,
) -> None:
    from cd.rollout.sagemaker import scaling_resource

    aas: Any = _scale(live_v1, "v1")
    report = live_v1.deploy(2)
    assert report.outcome == "succeeded", report.to_markdown()
    targets = aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [
        (scaling_resource(ENDPOINT, "v2"), 1, 4)
    ]
    policies = aas.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    assert [(p["ResourceId"], p["PolicyName"]) for p in policies] == [
        (scaling_resource(ENDPOINT, "v2"), "invocations-per-instance")
    ]


def test_a_rollback_leaves_stables_auto_scaling_in_place(live_v1: World) -> None:
    aas: Any = _scale(live_v1, "v1")
    live_v1.traffic.behaviours["v2"] = VersionProfile(error_rate=0.05)
    assert live_v1.deploy(2).outcome == "rolled_back"
    assert live_v1.live() == {"v1": 100.0}
    targets = aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert [t["ResourceId"] for t in targets] == [f"endpoint/{ENDPOINT}/variant/v1"]

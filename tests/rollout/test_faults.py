"""Faults injected on the adapter's real boto3 clients (botocore event hooks) and in moto's SageMaker."""

from __future__ import annotations

import itertools

import pytest

from cd.aws import client_config, s3_client
from tests.rollout.conftest import ENDPOINT, Faults, World
from tests.rollout.moto_sagemaker_ext import UpdateOutcome

IN_PROGRESS = (
    "ValidationException",
    'Cannot update in-progress endpoint "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/modelcd-staging-churn".',
)


def test_clients_use_an_explicit_bounded_retry_mode(world: World) -> None:
    assert world.target.sm.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}
    assert world.target.cw.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}
    assert client_config("adaptive", 3).retries == {"mode": "adaptive", "total_max_attempts": 3}


def test_the_s3_client_of_gate_datasets_has_the_same_bounded_retries(world: World) -> None:
    client = s3_client()
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (10, 60)


def test_update_refused_while_updating_is_waited_for_without_a_retry_storm(
    live_v1: World, faults: Faults
) -> None:
    w = live_v1
    faults.before["UpdateEndpoint"] = [IN_PROGRESS] * 3
    report = w.deploy(2)
    assert report.outcome == "succeeded"
    times = [t for op, t in faults.calls if op == "UpdateEndpoint"]
    assert len(times) == 5  # 3 refused + the accepted add + the finalize
    assert all(b - a >= 30.0 for a, b in itertools.pairwise(times[:4]))
    assert [d.action for d in report.decisions].count("Wait") >= 3


def test_a_slow_update_is_polled_and_each_change_requested_once(live_v1: World, faults: Faults) -> None:
    w = live_v1
    w.behaviour.transitional_describes = 6
    assert w.deploy(2).outcome == "succeeded"
    assert faults.count("UpdateEndpointWeightsAndCapacities") == 3
    assert faults.count("UpdateEndpoint") == 2


def test_throttling_once_on_every_operation_is_survived(live_v1: World, faults: Faults) -> None:
    w = live_v1
    throttle = ("ThrottlingException", "Rate exceeded")
    ops = [
        "DescribeEndpoint",
        "DescribeEndpointConfig",
        "DescribeModel",
        "ListTags",
        "AddTags",
        "CreateModel",
        "CreateEndpointConfig",
        "UpdateEndpoint",
        "UpdateEndpointWeightsAndCapacities",
        "GetMetricData",
        "ListEndpointConfigs",
        "ListModels",
        "DeleteEndpointConfig",
        "DeleteModel",
    ]
    for op in ops:
        faults.before[op] = [throttle]
    report = w.deploy(2)
    assert report.outcome == "succeeded", report.to_markdown()
    assert w.live() == {"v2": 100.0}
    assert {op for op, queued in faults.before.items() if queued} == set()  # every throttle was hit
    assert [c["EndpointConfigName"] for c in w.sm.list_endpoint_configs()["EndpointConfigs"]] == [  # type: ignore[attr-defined]
        w.sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]  # type: ignore[attr-defined]
    ]
    assert [m["ModelName"] for m in w.sm.list_models()["Models"]] == ["modelcd-staging-churn-v2-07f08194"]  # type: ignore[attr-defined]
    assert faults.count("UpdateEndpointWeightsAndCapacities") == 4  # 3 steps + 1 throttled attempt


def test_persistent_throttling_gives_up_with_a_clear_error(live_v1: World, faults: Faults) -> None:
    from cd.errors import RolloutError

    faults.before["DescribeEndpoint"] = [("ThrottlingException", "Rate exceeded")] * 50
    with pytest.raises(
        RolloutError,
        match="giving up after 9 consecutive transient errors: SageMaker DescribeEndpoint failed: ThrottlingException: Rate exceeded",
    ):
        live_v1.deploy(2)
    assert live_v1.live() == {"v1": 100.0}


@pytest.mark.parametrize("op", ["UpdateEndpoint", "UpdateEndpointWeightsAndCapacities", "AddTags"])
def test_read_timeout_after_an_accepted_change_is_reconciled_by_observing(
    live_v1: World, faults: Faults, op: str
) -> None:
    w = live_v1
    faults.timeout_after[op] = 1
    report = w.deploy(2)
    assert report.outcome == "succeeded", report.to_markdown()
    assert faults.timeout_after[op] == 0
    assert faults.count("UpdateEndpoint") == 2
    assert faults.count("UpdateEndpointWeightsAndCapacities") == 3  # no step shifted twice


@pytest.mark.parametrize(
    "outcome,status", [("failed", "Failed"), ("rollback_failed", "UpdateRollbackFailed")]
)
def test_endpoint_broken_by_an_update_freezes_the_rollout(
    live_v1: World, faults: Faults, outcome: UpdateOutcome, status: str
) -> None:
    w = live_v1
    w.behaviour.next_update_outcomes = ["ok", outcome]  # adding v2 works; the 10 % shift breaks the endpoint
    report = w.deploy(2)
    assert report.outcome == "frozen"
    assert report.message.startswith(f"freeze: endpoint modelcd-staging-churn is {status}: ")
    assert w.tags()["modelcd:phase"] == "frozen"
    assert faults.count("UpdateEndpointWeightsAndCapacities") == 1  # no further traffic steps
    again = w.deploy(2)
    assert again.outcome == "frozen" and faults.count("UpdateEndpointWeightsAndCapacities") == 1


def test_sagemaker_rolling_back_the_update_is_not_mistaken_for_success(
    live_v1: World, faults: Faults
) -> None:
    w = live_v1
    w.behaviour.next_update_outcomes = ["rollback"]  # SageMaker rolls back the UpdateEndpoint adding v2
    report = w.deploy(2)
    assert report.outcome == "rolled_back"
    assert "not the requested" in report.message
    assert w.live() == {"v1": 100.0}
    assert faults.count("UpdateEndpointWeightsAndCapacities") == 0


def test_capacity_error_shifts_no_traffic_and_stable_keeps_serving(live_v1: World, faults: Faults) -> None:
    w = live_v1
    faults.before["UpdateEndpoint"] = [
        (
            "ResourceLimitExceeded",
            "The account-level service limit 'ml.m5.large for endpoint usage' is 1 Instances",
        )
    ]
    report = w.deploy(2)
    assert report.outcome == "rolled_back"
    assert "ResourceLimitExceeded" in w.tags()["modelcd:reason"]
    assert w.live() == {"v1": 100.0}
    assert faults.count("UpdateEndpointWeightsAndCapacities") == 0
    assert w.aliases == []

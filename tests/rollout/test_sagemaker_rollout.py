"""End-to-end rollouts on moto: the real controller, the real boto3 adapter, metrics in CloudWatch."""

from __future__ import annotations

from tests.rollout.conftest import Behavior, World


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
    print(report.to_markdown())

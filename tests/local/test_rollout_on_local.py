"""The rollout controller's scenarios on the local target: good canary, bad canary, kill and re-run.

Same controller, same decisions as on SageMaker (tests/rollout): only the target differs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path

import pytest

from cd.config.model import Analysis, NativeTraffic, RolloutPolicy, SetWeight
from cd.rollout.local.target import LocalEndpoints
from cd.rollout.target import LatencyStatistic, ObservedEndpoint, VariantMetrics, VariantSpec

from .rollout_world import POLICY, LocalWorld, local_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[LocalWorld]:
    yield from local_world(tmp_path / "local-state")


@pytest.fixture
def live_v1(world: LocalWorld) -> LocalWorld:
    report = world.deploy(1)
    assert report.outcome == "succeeded", report.to_markdown()
    world.aliases.clear()
    return world


def test_first_deploy_creates_the_endpoint_with_the_version_alone(world: LocalWorld) -> None:
    report = world.deploy(1)
    assert report.outcome == "succeeded", report.to_markdown()
    assert world.live() == {"v1": 100.0}
    assert world.record()["modelcd:phase"] == "succeeded"
    assert world.aliases == [1]


def test_good_canary_goes_through_every_step_and_finalizes(live_v1: LocalWorld) -> None:
    w = live_v1
    v1_pid = {p for p in w.registered_variant_pids()}
    report = w.deploy(2)
    assert report.outcome == "succeeded", report.to_markdown()
    assert w.live() == {"v2": 100.0}
    assert w.variant_processes_alive() == {"v2": True}
    assert w.registered_variant_pids().isdisjoint(v1_pid)  # v1's process was stopped and unregistered
    shifts = [d.weights for d in report.decisions if d.action == "ShiftTraffic"]
    assert shifts == [{"v1": 90.0, "v2": 10.0}, {"v1": 50.0, "v2": 50.0}, {"v1": 0.0, "v2": 100.0}]
    analyses = [d.analysis["phase"] for d in report.decisions if d.action == "Analysis" and d.analysis]
    assert analyses[-3:] == ["Successful", "Successful", "Successful"]
    assert w.aliases == [2]


def test_a_rerun_after_success_is_a_noop(live_v1: LocalWorld) -> None:
    assert live_v1.deploy(2).outcome == "succeeded"
    report = live_v1.deploy(2)
    assert report.outcome == "noop"
    assert live_v1.live() == {"v2": 100.0}


def test_bad_canary_is_rolled_back_with_the_numbers_and_stable_at_100(live_v1: LocalWorld) -> None:
    w = live_v1
    report = w.deploy(3)  # v3 answers 20 % of its requests with 500
    assert report.outcome == "rolled_back", report.to_markdown()
    assert w.live() == {"v1": 100.0}
    assert w.variant_processes_alive() == {"v1": True}
    failed = [
        d
        for d in report.decisions
        if d.action == "Analysis" and d.analysis and d.analysis["phase"] == "Failed"
    ]
    assert failed, report.to_markdown()
    first = failed[0].analysis
    assert first is not None
    candidate = first["candidate"]  # the numbers are what the router counted for v3
    assert candidate["errors_5xx"] > 0 and candidate["errors_4xx"] == 0
    assert f"error_rate: 5xx {candidate['errors_5xx']:g}/{candidate['invocations']:g} = " in failed[0].message
    restores = [d.weights for d in report.decisions if d.action == "RestoreStable"]
    assert restores == [{"v1": 100.0, "v3": 0.0}]
    assert w.record()["modelcd:phase"] == "rolled_back"
    assert w.aliases == []
    # the candidate never had more than the first step's share of traffic
    shifts = [d.weights for d in report.decisions if d.action == "ShiftTraffic"]
    assert shifts == [{"v1": 90.0, "v3": 10.0}]


class Killed(BaseException):
    """The process died here (not an Exception: nothing in the controller may catch it)."""


MUTATIONS = ("apply_variants", "set_weights", "write_record", "cleanup")


class KillAfter:
    """The local target, but the process dies right after its `n`-th change has been carried out."""

    look_seconds = LocalEndpoints.look_seconds

    def __init__(self, inner: LocalEndpoints, n: int) -> None:
        self.inner, self.n, self.count = inner, n, 0

    def _mutated(self) -> None:
        self.count += 1
        if self.count == self.n:
            raise Killed(f"killed after change #{self.n}")

    def observe(self, endpoint: str) -> ObservedEndpoint | None:
        return self.inner.observe(endpoint)

    def apply_variants(
        self,
        endpoint: str,
        variants: Sequence[VariantSpec],
        weights: Mapping[str, float],
        shadow: VariantSpec | None = None,
        traffic: NativeTraffic | None = None,
    ) -> str:
        name: str = self.inner.apply_variants(endpoint, variants, weights, shadow)
        self._mutated()
        return name

    def set_weights(self, endpoint: str, weights: Mapping[str, float]) -> None:
        self.inner.set_weights(endpoint, weights)
        self._mutated()

    def write_record(
        self, endpoint: str, record: Mapping[str, str], *, expect_revision: str | None = None
    ) -> None:
        self.inner.write_record(endpoint, record, expect_revision=expect_revision)
        self._mutated()

    def read_metrics(
        self, endpoint: str, variant: str, start: datetime, end: datetime, statistic: LatencyStatistic
    ) -> VariantMetrics:
        return self.inner.read_metrics(endpoint, variant, start, end, statistic)

    def alarms_in_alarm(self, names: Sequence[str]) -> tuple[str, ...]:
        return self.inner.alarms_in_alarm(names)

    def cleanup(self, endpoint: str, keep: Sequence[VariantSpec]) -> tuple[str, ...]:
        deleted: tuple[str, ...] = self.inner.cleanup(endpoint, keep)
        self._mutated()
        return deleted


# One canary step and its analysis: every kind of change a rollout makes (record, add, shift, finalize
# or roll back, clean up) in fewer changes than the nine-step template, so the kill matrix stays short.
KILL_STEPS = RolloutPolicy(strategy="canary", steps=(SetWeight(50), Analysis(POLICY)), analysis=POLICY)


def changes_in_a_full_rollout(w: LocalWorld, version: int) -> int:
    counter = KillAfter(w.target, n=10**9)
    report = w.deploy(version, target=counter, policy=KILL_STEPS)
    assert report.outcome in ("succeeded", "rolled_back"), report.to_markdown()
    return counter.count


@pytest.mark.slow
@pytest.mark.parametrize(
    ("version", "outcome", "final"), [(2, "succeeded", {"v2": 100.0}), (3, "rolled_back", {"v1": 100.0})]
)
def test_killed_after_each_change_then_rerun_ends_consistently_and_never_loses_stable(
    tmp_path: Path, version: int, outcome: str, final: dict[str, float]
) -> None:
    with_count = local_world(tmp_path / "count")
    w = next(with_count)
    try:
        assert w.deploy(1).outcome == "succeeded"
        total = changes_in_a_full_rollout(w, version)
    finally:
        with_count.close()
    assert total >= 5
    for n in range(1, total + 1):
        worlds = local_world(tmp_path / f"kill-{n}")
        w = next(worlds)
        try:
            assert w.deploy(1).outcome == "succeeded"
            try:
                unkilled = w.deploy(version, target=KillAfter(w.target, n), policy=KILL_STEPS)
            except Killed:
                pass
            else:
                pytest.fail(
                    f"the rollout took another path with fewer than {n} changes:\n{unkilled.to_markdown()}"
                )
            live = w.live()
            # stable keeps serving until the candidate passed its last step: someone always has traffic
            assert sum(live.values()) == 100.0, (n, live)
            assert "v1" in live or live == {f"v{version}": 100.0}, (n, live)
            report = w.deploy(version, owner="run-1", policy=KILL_STEPS)
            # re-run after the last change: success is a no-op; a finished rollback refuses the version
            assert report.outcome in (outcome, "noop" if outcome == "succeeded" else "refused"), (
                n,
                report.to_markdown(),
            )
            assert w.live() == final, (n, report.to_markdown())
            assert w.variant_processes_alive() == {name: True for name in final}
            assert len(w.registered_variant_pids()) == 1, n  # nothing left running beside what serves
        finally:
            worlds.close()


def test_a_three_way_experiment_splits_real_traffic_between_stable_and_both_versions(
    live_v1: LocalWorld,
) -> None:
    import http.client
    import math

    from cd.config.model import Experiment, ExperimentPolicy

    from .rollout_world import ENDPOINT

    split = RolloutPolicy(
        "experiment",
        (SetWeight(30), Experiment(7 * 86400)),
        POLICY,
        experiment=ExperimentPolicy(metric="kept"),
    )
    report = live_v1.deploy(2, policy=split, challengers=(4,))
    assert report.outcome == "experimenting", report.to_markdown()
    assert live_v1.live() == {"v1": 40.0, "v2": 30.0, "v4": 30.0}
    assert live_v1.variant_processes_alive() == {"v1": True, "v2": True, "v4": True}
    conn = http.client.HTTPConnection("127.0.0.1", live_v1.traffic.port, timeout=10)
    invoked = []
    for _ in range(1000):
        conn.request("POST", f"/endpoints/{ENDPOINT}/invocations", body=b"[{}]")
        response = conn.getresponse()
        response.read()
        invoked.append(response.getheader("x-amzn-invoked-production-variant"))
    for name, share in (("v1", 0.4), ("v2", 0.3), ("v4", 0.3)):
        # 5 standard deviations of Binomial(1000, share): the router's seed is fixed
        assert abs(invoked.count(name) - 1000 * share) <= 5 * math.sqrt(1000 * share * (1 - share)), name

"""Safe when nobody watches (moto): the record is compare-and-set, leases name one run, an abort acts."""

from __future__ import annotations

from collections.abc import Mapping

import boto3
import pytest

from cd.errors import RolloutError
from cd.rollout.operate import abort, drive_rollback
from cd.rollout.record import decode
from cd.rollout.sagemaker import SageMakerEndpoints
from cd.rollout.target import RecordConflictError
from tests.rollout.conftest import ENDPOINT, REGION, ROLE, STEPS, Faults, Killed, VersionProfile, World


class AbortBeforeWrite:
    """The controller's target, with an operator's abort landing once just before the controller's
    `write_record` at the given revision: after its observe, before its write."""

    def __init__(self, world: World, revision: str) -> None:
        self.inner = world.target
        self.operator = SageMakerEndpoints.create(REGION, ROLE, session=boto3.session.Session())
        self.revision = revision
        self.fired = False

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def write_record(
        self, endpoint: str, record: Mapping[str, str], *, expect_revision: str | None = None
    ) -> None:
        if not self.fired and expect_revision == self.revision:
            self.fired = True
            abort(self.operator, endpoint, by="oncall")
        self.inner.write_record(endpoint, record, expect_revision=expect_revision)


def revision(world: World) -> str:
    return world.tags()["modelcd:revision"]


def test_an_abort_between_a_runs_observe_and_its_write_is_not_lost(live_v1: World) -> None:
    w = live_v1
    racing = AbortBeforeWrite(w, revision=str(int(revision(w)) + 1))  # the write after "start rollout"
    w.target = racing  # type: ignore[assignment]
    report = w.deploy(2)
    assert racing.fired
    assert report.outcome == "rolled_back", report.to_markdown()
    assert "aborted by oncall" in report.message
    assert w.live() == {"v1": 100.0}
    assert any(d.action == "Reconcile" and "another writer" in d.message for d in report.decisions)


def test_a_stale_write_is_refused_and_changes_nothing(live_v1: World) -> None:
    w = live_v1
    before = w.tags()
    stale = str(int(revision(w)) - 1)
    with pytest.raises(RecordConflictError, match=f"revision {revision(w)}, not {stale}"):
        w.target.write_record(ENDPOINT, {"modelcd:phase": "progressing"}, expect_revision=stale)
    assert w.tags() == before


def test_each_write_bumps_the_revision(live_v1: World) -> None:
    w = live_v1
    first = int(revision(w))
    w.traffic.behaviours["v2"] = VersionProfile(error_rate=0.05)
    w.deploy(2)
    assert int(revision(w)) > first + 2


def test_an_abort_with_no_deploy_running_rolls_back_by_itself(live_v1: World, faults: Faults) -> None:
    w = live_v1
    faults.kill_on = "UpdateEndpointWeightsAndCapacities"  # the run dies with v2 at 10 %
    with pytest.raises(Killed):
        w.deploy(2, owner="gh:acme/models:7:1")
    w.target.observe(ENDPOINT)  # the shift it asked for settles
    w.target.observe(ENDPOINT)
    assert w.live() == {"v1": 90.0, "v2": 10.0}
    abort(w.target, ENDPOINT, by="oncall")
    report = drive_rollback(w.target, ENDPOINT, STEPS, owner="oncall@laptop:1", clock=w.clock)
    assert report.outcome == "rolled_back", report.to_markdown()
    assert w.live() == {"v1": 100.0}
    assert w.tags()["modelcd:phase"] == "rolled_back"


def test_the_run_that_lost_its_rollout_to_an_abort_is_refused(live_v1: World, faults: Faults) -> None:
    w = live_v1
    faults.kill_on = "UpdateEndpointWeightsAndCapacities"
    with pytest.raises(Killed):
        w.deploy(2, owner="run-1")
    abort(w.target, ENDPOINT, by="oncall")
    faults.kill_on = "UpdateEndpointWeightsAndCapacities"  # the abort's own rollback dies at 100 % stable
    with pytest.raises(Killed):
        drive_rollback(w.target, ENDPOINT, STEPS, owner="oncall@laptop:1", clock=w.clock)
    report = w.deploy(2, owner="run-1")  # the old run comes back: the rollback is not its own
    assert report.outcome == "refused"
    assert "leased by 'oncall@laptop:1'" in report.message


def test_a_re_run_attempt_resumes_at_once_from_the_attempt_that_died(live_v1: World, faults: Faults) -> None:
    w = live_v1
    w.traffic.rate = 100.0
    faults.kill_on = "UpdateEndpointWeightsAndCapacities"
    with pytest.raises(Killed):
        w.deploy(2, owner="gh:acme/models:7:1")
    state = decode(w.tags())
    assert state is not None and state.lease_expires_at > w.clock.now()  # its lease still holds
    report = w.deploy(2, owner="gh:acme/models:7:2")
    assert report.outcome == "succeeded", report.to_markdown()
    assert "take the lease from 'gh:acme/models:7:1'" in [d.message for d in report.decisions]


def test_another_run_of_the_same_version_is_refused_while_the_lease_holds(
    live_v1: World, faults: Faults
) -> None:
    w = live_v1
    faults.kill_on = "UpdateEndpointWeightsAndCapacities"
    with pytest.raises(Killed):
        w.deploy(2, owner="gh:acme/models:7:1")
    assert w.deploy(2, owner="gh:acme/models:8:1").outcome == "refused"


def test_a_dead_runs_lease_does_not_block_the_git_rollback(live_v1: World, faults: Faults) -> None:
    w = live_v1
    faults.kill_on = "UpdateEndpointWeightsAndCapacities"
    with pytest.raises(Killed):
        w.deploy(2, owner="gh:acme/models:7:1")
    report = w.deploy(1, owner="gh:acme/models:9:1")  # the rollback PR merged: git asks for v1 again
    assert report.outcome == "succeeded", report.to_markdown()
    assert w.live() == {"v1": 100.0}
    assert any("superseded: git now asks for v1" in d.message for d in report.decisions)


def test_a_record_that_keeps_changing_stops_the_run_with_a_clear_error(live_v1: World) -> None:
    w = live_v1
    inner = w.target

    class AlwaysStale:
        def __getattr__(self, name: str) -> object:
            return getattr(inner, name)

        def write_record(self, endpoint: str, record: Mapping[str, str], **_: object) -> None:
            raise RecordConflictError("revision moved")

    w.target = AlwaysStale()  # type: ignore[assignment]
    with pytest.raises(RolloutError, match="kept changing under this run"):
        w.deploy(2)


def test_a_candidate_the_target_refuses_ends_the_rollout_instead_of_leaving_it_leased(
    live_v1: World, faults: Faults
) -> None:
    w = live_v1
    faults.before["CreateModel"] = [("ValidationException", "Requested image not found in the repository")]
    report = w.deploy(2, owner="gh:acme/models:7:1")
    assert report.outcome == "rolled_back", report.to_markdown()
    assert "the candidate could not be added" in report.message
    assert "Requested image not found" in report.message
    state = decode(w.tags())
    assert state is not None and (state.phase, state.lease_owner) == ("rolled_back", "")
    assert w.live() == {"v1": 100.0}

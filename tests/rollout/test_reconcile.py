"""`modelcd reconcile` takes over the rollouts a dead run left (moto, the real controller, a real repo)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cd.rollout.reconcile import reconcile_environment, unattended
from cd.rollout.record import RolloutState, decode
from cd.workspace import Workspace
from tests.helpers import GitRepo
from tests.rollout.conftest import Faults, Killed, World, image

NOW = 10_000.0
ME = "gh:acme/models:9:1"
RUNNING = RolloutState(
    "churn", 2, image(2), 1, "progressing", 1, "h", NOW - 60, NOW - 60, NOW - 60,
    lease_owner="gh:acme/models:7:1", lease_expires_at=NOW + 600,
)  # fmt: skip


@pytest.mark.parametrize(
    ("state", "gone", "verdict"),
    [
        (None, False, "idle"),
        (replace(RUNNING, phase="succeeded"), False, "idle"),
        (replace(RUNNING, phase="paused", lease_owner=""), False, "paused"),
        (RUNNING, False, "watched"),  # its run may still be alive
        (RUNNING, True, "resume"),  # its run is known to have ended
        (replace(RUNNING, lease_expires_at=NOW - 1), False, "resume"),
        (replace(RUNNING, lease_owner=""), False, "resume"),  # aborted or released
        (replace(RUNNING, lease_owner="", version=3), False, "roll_back"),  # git moved on
        (replace(RUNNING, lease_owner="", phase="rolling_back"), False, "roll_back"),  # half rolled back
    ],
)
def test_which_rollouts_reconcile_takes_over(state: RolloutState | None, gone: bool, verdict: str) -> None:
    assert unattended(state, 2, ME, NOW, gone)[0] == verdict


@pytest.mark.parametrize(
    ("state", "challengers", "verdict"),
    [
        # the experiment git asks for: v2 with the challenger v3
        (replace(RUNNING, lease_owner="", challengers=(3,)), (3,), "resume"),
        # git changed the challengers: the running experiment is not what it asks for
        (replace(RUNNING, lease_owner="", challengers=(3,)), (4,), "roll_back"),
        (replace(RUNNING, lease_owner=""), (3,), "roll_back"),
        # v3 won over git's v2 and is rolling out: what git's experiment asks for, until git names v3
        (replace(RUNNING, lease_owner="", version=3, outvoted=2), (3,), "resume"),
        (replace(RUNNING, lease_owner="", version=4, outvoted=2), (3,), "roll_back"),
    ],
    ids=["same-experiment", "other-challengers", "challengers-added", "winner", "not-a-challenger"],
)
def test_which_experiments_reconcile_takes_over(
    state: RolloutState, challengers: tuple[int, ...], verdict: str
) -> None:
    assert unattended(state, 2, ME, NOW, False, challengers)[0] == verdict


@pytest.fixture
def repo(template_repo: GitRepo) -> GitRepo:
    """The template, staging at v2, its analysis on CloudWatch averages (moto computes no percentiles)."""
    text = template_repo.read("environments/staging.yaml")
    text = text.replace("    - shadow: 5m\n", "").replace(
        "latency_statistic: p99", "latency_statistic: Average"
    )
    text = text.replace("    version: 1\n", "    version: 2\n", 1)
    template_repo.write("environments/staging.yaml", text)
    template_repo.commit("staging: churn v2")
    return template_repo


def killed_at_10_percent(w: World, faults: Faults, ws: Workspace, owner: str = "gh:acme/models:7:1") -> None:
    w.traffic.rate = 100.0  # a resumed rollout shows non-inferiority in few looks
    faults.kill_on = "UpdateEndpointWeightsAndCapacities"
    with pytest.raises(Killed):
        w.deploy(2, owner=owner, policy=ws.environment("staging").rollout)


def reconcile(w: World, ws: Workspace, owner: str = ME) -> list:
    return reconcile_environment(ws, "staging", owner=owner, now=w.clock.now(), clock=w.clock)


def test_a_rollout_whose_run_died_is_left_alone_while_its_lease_holds(
    live_v1: World, faults: Faults, repo: GitRepo
) -> None:
    ws = Workspace.find(repo.path)
    killed_at_10_percent(live_v1, faults, ws)
    [look] = reconcile(live_v1, ws)
    assert (look.verdict, look.report) == ("watched", None)
    assert "watched by 'gh:acme/models:7:1'" in look.message


def test_a_rollout_whose_lease_expired_is_resumed_to_the_end(
    live_v1: World, faults: Faults, repo: GitRepo
) -> None:
    w, ws = live_v1, Workspace.find(repo.path)
    killed_at_10_percent(w, faults, ws)
    w.clock.sleep(ws.environment("staging").rollout.lease_seconds + 1)
    [look] = reconcile(w, ws)
    assert look.verdict == "resume" and look.report is not None
    assert look.report.outcome == "succeeded", look.report.to_markdown()
    assert w.live() == {"v2": 100.0}
    assert (repo.path / ".modelcd/rollouts/staging-churn-v2.json").is_file()


def test_the_next_attempt_of_the_dead_run_is_resumed_at_once(
    live_v1: World, faults: Faults, repo: GitRepo
) -> None:
    w, ws = live_v1, Workspace.find(repo.path)
    killed_at_10_percent(w, faults, ws, owner="gh:acme/models:7:1")
    [look] = reconcile(w, ws, owner="gh:acme/models:7:2")
    assert look.verdict == "resume" and look.report is not None and look.report.ok


def test_a_rollout_git_no_longer_wants_is_rolled_back(live_v1: World, faults: Faults, repo: GitRepo) -> None:
    w, ws = live_v1, Workspace.find(repo.path)
    killed_at_10_percent(w, faults, ws)
    repo.write(
        "environments/staging.yaml",
        repo.read("environments/staging.yaml").replace("version: 2", "version: 3"),
    )
    repo.commit("staging: churn v3")
    w.clock.sleep(ws.environment("staging").rollout.lease_seconds + 1)
    [look] = reconcile(w, Workspace.find(repo.path))
    assert look.verdict == "roll_back" and look.ok
    assert look.report is not None and look.report.outcome == "rolled_back"
    assert w.live() == {"v1": 100.0}
    state = decode(w.tags())
    assert state is not None and "superseded" in state.reason


def test_a_paused_rollout_is_not_touched(live_v1: World, faults: Faults, repo: GitRepo) -> None:
    from cd.rollout.operate import pause

    w, ws = live_v1, Workspace.find(repo.path)
    killed_at_10_percent(w, faults, ws)
    pause(w.target, "modelcd-staging-churn", by="oncall")
    before = w.tags()
    [look] = reconcile(w, ws)
    assert look.verdict == "paused" and w.tags() == before

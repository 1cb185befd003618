"""A/B experiments: the always-valid comparison of a business metric, and the decision it takes."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from cd.config.model import Experiment, ExperimentPolicy, RolloutPolicy, SetWeight
from cd.rollout.experiment import Arm, decide_experiment, msprt
from cd.rollout.experiment_run import arms_from_outcomes, run_experiment
from cd.rollout.reconcile import Look
from cd.workspace import Workspace
from tests.helpers import GitRepo, make_template_repo
from tests.rollout.conftest import ENDPOINT, FakeClock, Faults, Killed, World
from tests.rollout.conftest import POLICY as CANARY_POLICY

POLICY = ExperimentPolicy(metric="retained", alpha=0.05, effect_of_interest=0.02, min_samples=200)
WEEK = 7 * 86400.0


def rates(n: int, p: float, seed: int) -> list[float]:
    return list((np.random.default_rng(seed).random(n) < p).astype(float))


def test_the_e_value_is_the_likelihood_ratio_averaged_over_the_normal_mixture() -> None:
    control, challenger = Arm.of("v1", 1, rates(4000, 0.30, 1)), Arm.of("v2", 2, rates(4000, 0.33, 2))
    c = msprt(control, challenger, tau=0.02, level=0.05)
    v = control.variance / control.n + challenger.variance / challenger.n
    d = challenger.mean - control.mean

    def ratio(theta: float) -> float:  # N(d; theta, v) / N(d; 0, v), weighted by the N(0, tau^2) prior
        return float(
            stats.norm.pdf(d, theta, math.sqrt(v))
            / stats.norm.pdf(d, 0, math.sqrt(v))
            * stats.norm.pdf(theta, 0, 0.02)
        )

    expected, _ = integrate.quad(ratio, -0.3, 0.3, points=[d])
    assert c.e_value == pytest.approx(expected, rel=1e-6)


def test_arm_variance_equals_numpys_sample_variance() -> None:
    values = list(np.random.default_rng(3).normal(5, 2, 500))
    arm = Arm.of("v1", 1, values)
    assert (arm.mean, arm.variance) == (pytest.approx(np.mean(values)), pytest.approx(np.var(values, ddof=1)))


@pytest.mark.parametrize(
    ("p_control", "p_candidate", "n", "elapsed", "outcome"),
    [
        (0.30, 0.36, 5000, 3600.0, "candidate_wins"),
        (0.36, 0.30, 5000, 3600.0, "stable_wins"),
        (0.30, 0.30, 5000, 3600.0, "undecided"),
        (0.30, 0.30, 5000, WEEK, "expired"),  # time is up and nobody won: all traffic back to stable
        (0.30, 0.60, 100, 3600.0, "not_enough_data"),  # under min_samples: waits, whatever it looks like
    ],
)
def test_the_decision(p_control: float, p_candidate: float, n: int, elapsed: float, outcome: str) -> None:
    arms = [Arm.of("v1", 1, rates(n, p_control, 10)), Arm.of("v2", 2, rates(n, p_candidate, 11))]
    decision = decide_experiment(arms, POLICY, elapsed=elapsed, duration=WEEK)
    assert decision.outcome == outcome
    if outcome == "candidate_wins":
        assert decision.winner == "v2" and decision.message.startswith(
            "v2 beats v1 on retained: difference +0.0"
        )


def test_lower_is_better_flips_who_wins() -> None:
    arms = [Arm.of("v1", 1, rates(5000, 0.30, 10)), Arm.of("v2", 2, rates(5000, 0.24, 11))]
    policy = ExperimentPolicy(metric="churned", higher_is_better=False)
    assert decide_experiment(arms, policy, elapsed=60, duration=WEEK).outcome == "candidate_wins"


def test_looking_every_hour_of_an_aa_test_rarely_declares_a_winner() -> None:
    """No true difference, 200 experiments each looked at 30 times as data arrives: the always-valid
    p-value crosses alpha in at most about alpha of them (a fixed-n test looked at 30 times would far more)."""
    crossed = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        a, b = (rng.random(30 * 300) < 0.3).astype(float), (rng.random(30 * 300) < 0.3).astype(float)
        for look in range(1, 31):
            n = look * 300
            c = msprt(Arm.of("v1", 1, a[:n]), Arm.of("v2", 2, b[:n]), tau=0.02, level=0.05)
            if c.significant:
                crossed += 1
                break
    assert crossed <= 0.05 * 200 + 6  # alpha plus Monte Carlo slack (binomial sd ~3)


def test_the_confidence_sequence_covers_the_true_difference() -> None:
    misses = 0
    for seed in range(200):
        c = msprt(
            Arm.of("v1", 1, rates(3000, 0.30, seed)),
            Arm.of("v2", 2, rates(3000, 0.32, 1000 + seed)),
            0.02,
            0.05,
        )
        misses += not (c.low <= 0.02 <= c.high)
    assert misses <= 10


def test_several_challengers_share_alpha() -> None:
    arms = [Arm.of(f"v{i}", i, rates(3000, 0.3, i)) for i in range(1, 4)]
    decision = decide_experiment(arms, POLICY, elapsed=60, duration=WEEK)
    assert [c.level for c in decision.comparisons] == [0.025, 0.025]


def test_outcomes_are_joined_to_the_variant_that_answered_by_inference_id() -> None:
    outcomes = pd.DataFrame(
        {"inference_id": ["a", "b", "c", "zzz"], "row": [0, 0, 0, 0], "retained": [1.0, 0.0, 1.0, 1.0]}
    )
    arms = arms_from_outcomes(
        {"v1": 1, "v2": 2},
        np.array(["a", "b", "c"], dtype=object),
        np.array([0, 0, 0]),
        np.array(["v1", "v2", "v2"]),
        outcomes,
        "retained",
    )
    assert [(a.variant, a.n, a.total) for a in arms] == [("v1", 1, 1.0), ("v2", 2, 1.0)]


# ---------------------------------------------------------------- on SageMaker (moto): split, decide, act

SPLIT = RolloutPolicy("experiment", (SetWeight(50), Experiment(WEEK)), CANARY_POLICY, experiment=POLICY)
STAGING = """name: staging
target:
  kind: sagemaker
  region: eu-west-1
  role_arn: arn:aws:iam::123456789012:role/modelcd-sagemaker-execution
  image_repository: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/modelcd
  endpoint_prefix: modelcd-staging
rollout:
  strategy: experiment
  steps:
    - set_weight: 50
    - experiment: 168h
  experiment: {metric: retained, source: cloudwatch, namespace: Acme/Churn, alpha: 0.05, effect_of_interest: 0.02, min_samples: 200}
models:
  churn:
    version: 2
"""


def _repo(tmp_path: Path, staging: str = STAGING) -> GitRepo:
    repo = make_template_repo(tmp_path / "repo")
    (repo.path / "environments" / "staging.yaml").write_text(staging)
    repo.commit("staging runs an experiment")
    return repo


def later(world: World) -> FakeClock:
    """The world's clock, an hour into the experiment."""
    world.clock.sleep(3600)
    return world.clock


def _retained(world: World, at: float, rates_by_variant: dict[str, tuple[int, int]]) -> None:
    for variant, (n, kept) in rates_by_variant.items():
        world.cw.put_metric_data(  # type: ignore[attr-defined]
            Namespace="Acme/Churn",
            MetricData=[{
                "MetricName": "retained",
                "Dimensions": [{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": variant}],
                "Timestamp": datetime.fromtimestamp(at, UTC),
                "StatisticValues": {"SampleCount": n, "Sum": kept, "Minimum": 0, "Maximum": 1},
            }],
        )  # fmt: skip


def test_an_experiment_holds_its_split_and_the_deploy_succeeds(live_v1: World) -> None:
    report = live_v1.deploy(2, policy=SPLIT)
    assert report.outcome == "experimenting", report.to_markdown()
    assert live_v1.live() == {"v1": 50.0, "v2": 50.0}
    assert live_v1.tags()["modelcd:phase"] == "experimenting"


def test_a_winning_candidate_goes_to_100_and_a_promotion_is_proposed(live_v1: World, tmp_path: Path) -> None:
    live_v1.deploy(2, policy=SPLIT)
    _retained(live_v1, live_v1.clock.now() + 120, {"v1": (4000, 1200), "v2": (4000, 1440)})  # 30 % vs 36 %
    run = run_experiment(Workspace.find(_repo(tmp_path).path), "staging", "churn", clock=later(live_v1))
    assert (run.decision.outcome, run.acted) == ("candidate_wins", "completed")
    assert live_v1.live() == {"v2": 100.0}
    assert run.proposal is not None and run.proposal.branch == "modelcd/promote-churn-v2-to-production"


def test_a_losing_candidate_returns_all_traffic_to_stable_and_git_is_set_back(
    live_v1: World, tmp_path: Path
) -> None:
    live_v1.deploy(2, policy=SPLIT)
    _retained(live_v1, live_v1.clock.now() + 120, {"v1": (4000, 1440), "v2": (4000, 1200)})
    run = run_experiment(Workspace.find(_repo(tmp_path).path), "staging", "churn", clock=later(live_v1))
    assert (run.decision.outcome, run.acted) == ("stable_wins", "rolled back")
    assert live_v1.live() == {"v1": 100.0}
    assert run.proposal is not None and run.proposal.branch.startswith("modelcd/rollback-churn-staging-to-v1")


def test_an_undecided_experiment_keeps_its_split(live_v1: World, tmp_path: Path) -> None:
    live_v1.deploy(2, policy=SPLIT)
    _retained(live_v1, live_v1.clock.now() + 120, {"v1": (500, 150), "v2": (500, 152)})
    run = run_experiment(Workspace.find(_repo(tmp_path).path), "staging", "churn", clock=later(live_v1))
    assert run.decision.outcome == "undecided" and live_v1.live() == {"v1": 50.0, "v2": 50.0}
    assert "v2 - v1: +0.004" in run.render()


def test_stopping_an_experiment_returns_all_traffic_to_stable(live_v1: World, tmp_path: Path) -> None:
    live_v1.deploy(2, policy=SPLIT)
    _retained(live_v1, live_v1.clock.now() + 120, {"v1": (500, 150), "v2": (500, 152)})
    run = run_experiment(
        Workspace.find(_repo(tmp_path).path), "staging", "churn", stop=True, clock=later(live_v1)
    )
    assert run.acted == "rolled back" and live_v1.live() == {"v1": 100.0}
    assert run.decision.message.startswith("stopped by hand")


def test_the_scheduled_job_finds_the_experiments_running(live_v1: World, tmp_path: Path) -> None:
    from cd.rollout.experiment_run import running_experiments

    ws = Workspace.find(_repo(tmp_path).path)
    assert running_experiments(ws, "staging") == []
    live_v1.deploy(2, policy=SPLIT)
    assert running_experiments(ws, "staging") == ["churn"]


# ---------------------------------------------------------------- three versions: stable, git's version, a challenger

SPLIT3 = RolloutPolicy("experiment", (SetWeight(30), Experiment(WEEK)), CANARY_POLICY, experiment=POLICY)
STAGING3 = STAGING.replace("set_weight: 50", "set_weight: 30").replace(
    "    version: 2\n", "    version: 2\n    challengers: [3]\n"
)


def _repo3(tmp_path: Path) -> GitRepo:
    return _repo(tmp_path, STAGING3)


def _three_way(world: World) -> None:
    report = world.deploy(2, policy=SPLIT3, challengers=(3,))
    assert report.outcome == "experimenting", report.to_markdown()


def test_a_three_way_experiment_holds_each_version_at_its_share_beside_stable(live_v1: World) -> None:
    _three_way(live_v1)
    assert live_v1.live() == {"v1": 40.0, "v2": 30.0, "v3": 30.0}
    tags = live_v1.tags()
    assert (tags["modelcd:phase"], tags["modelcd:version"], tags["modelcd:challengers"]) == (
        "experimenting",
        "2",
        "3",
    )


def test_a_winning_challenger_serves_alone_and_git_is_proposed_to_follow(
    live_v1: World, tmp_path: Path
) -> None:
    _three_way(live_v1)
    at = live_v1.clock.now() + 120
    _retained(live_v1, at, {"v1": (4000, 1200), "v2": (4000, 1240), "v3": (4000, 1480)})  # 30, 31, 37 %
    repo = _repo3(tmp_path)
    run = run_experiment(Workspace.find(repo.path), "staging", "churn", clock=later(live_v1))
    assert (run.decision.outcome, run.decision.winner, run.acted) == ("candidate_wins", "v3", "completed")
    assert live_v1.live() == {"v3": 100.0}
    tags = live_v1.tags()
    assert (tags["modelcd:phase"], tags["modelcd:version"], tags["modelcd:outvoted"]) == (
        "succeeded",
        "3",
        "2",
    )
    models = [m["ModelName"] for m in live_v1.sm.list_models()["Models"]]  # type: ignore[attr-defined]
    assert [m.split("-")[3] for m in models] == ["v3"]  # stable's and the loser's models are removed
    assert run.proposal is not None and run.proposal.branch == "modelcd/experiment-churn-staging-v3"
    proposed = repo.git("show", f"{run.proposal.branch}:environments/staging.yaml")
    assert proposed.endswith("  churn:\n    version: 3") and "challengers" not in proposed
    assert "merge the PR that sets it to the winner" in run.render()


def test_after_a_challenger_won_a_deploy_of_what_git_still_says_changes_nothing(
    live_v1: World, tmp_path: Path
) -> None:
    _three_way(live_v1)
    _retained(
        live_v1, live_v1.clock.now() + 120, {"v1": (4000, 1200), "v2": (4000, 1240), "v3": (4000, 1480)}
    )
    run_experiment(Workspace.find(_repo3(tmp_path).path), "staging", "churn", clock=later(live_v1))
    report = live_v1.deploy(2, policy=SPLIT3, challengers=(3,))  # reconcile: git still names the experiment
    assert (report.outcome, report.message) == (
        "noop",
        f"{ENDPOINT} already serves v3 alone (it won the experiment over v2)",
    )
    assert live_v1.live() == {"v3": 100.0}


def test_gits_version_winning_over_stable_and_the_challenger_goes_to_100(
    live_v1: World, tmp_path: Path
) -> None:
    _three_way(live_v1)
    _retained(
        live_v1, live_v1.clock.now() + 120, {"v1": (4000, 1200), "v2": (4000, 1480), "v3": (4000, 1240)}
    )
    run = run_experiment(Workspace.find(_repo3(tmp_path).path), "staging", "churn", clock=later(live_v1))
    assert (run.decision.winner, run.acted) == ("v2", "completed")
    assert live_v1.live() == {"v2": 100.0}
    assert live_v1.tags()["modelcd:phase"] == "succeeded"
    assert run.proposal is not None and run.proposal.branch == "modelcd/promote-churn-v2-to-production"


def test_stable_beating_every_challenger_returns_all_traffic_and_git_drops_the_experiment(
    live_v1: World, tmp_path: Path
) -> None:
    _three_way(live_v1)
    _retained(
        live_v1, live_v1.clock.now() + 120, {"v1": (4000, 1480), "v2": (4000, 1200), "v3": (4000, 1240)}
    )
    repo = _repo3(tmp_path)
    run = run_experiment(Workspace.find(repo.path), "staging", "churn", clock=later(live_v1))
    assert (run.decision.outcome, run.acted) == ("stable_wins", "rolled back")
    assert live_v1.live() == {"v1": 100.0}
    assert run.proposal is not None
    proposed = repo.git("show", f"{run.proposal.branch}:environments/staging.yaml")
    assert proposed.endswith("  churn:\n    version: 1") and "challengers" not in proposed


def test_an_undecided_three_way_experiment_keeps_its_split(live_v1: World, tmp_path: Path) -> None:
    _three_way(live_v1)
    _retained(live_v1, live_v1.clock.now() + 120, {"v1": (500, 150), "v2": (500, 152), "v3": (500, 149)})
    run = run_experiment(Workspace.find(_repo3(tmp_path).path), "staging", "churn", clock=later(live_v1))
    assert (run.decision.outcome, run.acted) == ("undecided", "nothing: the split holds")
    assert live_v1.live() == {"v1": 40.0, "v2": 30.0, "v3": 30.0}
    assert "v3 - v1: -0.002" in run.render() and "level 0.025" in run.render()


def _killed_then_reconciled(world: World, faults: Faults, tmp_path: Path, operation: str) -> Look:
    """The three-way deploy dies at `operation`; once its lease has expired, reconcile looks."""
    from cd.rollout.reconcile import reconcile_environment

    ws = Workspace.find(_repo3(tmp_path).path)
    rollout = ws.environment("staging").rollout
    faults.kill_on = operation
    with pytest.raises(Killed):
        world.deploy(2, policy=rollout, challengers=(3,), owner="gh:acme/models:7:1")
    faults.kill_on = None
    world.clock.sleep(rollout.lease_seconds + 1)
    [look] = reconcile_environment(
        ws, "staging", owner="gh:acme/models:9:1", now=world.clock.now(), clock=world.clock
    )
    return look


def test_a_three_way_experiment_whose_deploy_died_mid_split_is_resumed_by_reconcile(
    live_v1: World, faults: Faults, tmp_path: Path
) -> None:
    look = _killed_then_reconciled(live_v1, faults, tmp_path, "UpdateEndpointWeightsAndCapacities")
    assert look.verdict == "resume" and look.report is not None, look.message
    assert look.report.outcome == "experimenting", look.report.to_markdown()
    assert live_v1.live() == {"v1": 40.0, "v2": 30.0, "v3": 30.0}


def test_reconcile_leaves_an_experiment_stopped_before_its_versions_were_added_to_a_deploy(
    live_v1: World, faults: Faults, tmp_path: Path
) -> None:
    # the run dies as it adds v2 and v3 beside stable
    look = _killed_then_reconciled(live_v1, faults, tmp_path, "CreateEndpointConfig")
    assert (look.verdict, look.ok) == ("stalled", False)
    assert "re-run the deploy, which has their build records" in look.message
    assert live_v1.live() == {"v1": 100.0}

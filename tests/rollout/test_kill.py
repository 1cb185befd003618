"""Killing the process between any two actions, then running the job again."""

from __future__ import annotations

from cd.config.model import Analysis, Bake, RolloutPolicy, SetWeight
from tests.rollout.conftest import POLICY, Faults, Killed, VersionProfile, World, make_world
from tests.rollout.moto_sagemaker_ext import EndpointBehaviour

# Two traffic steps, a bake and analyses: every kind of action (record, add, shift, analyse, finalize or
# roll back, clean up) and a shift after a shift, in fewer actions than the nine-step template.
KILL_STEPS = RolloutPolicy(
    strategy="canary",
    steps=(SetWeight(10), Bake(120), Analysis(POLICY), SetWeight(50), Analysis(POLICY)),
    analysis=POLICY,
)


def _killed_after_each_action(aws: EndpointBehaviour, bad: bool) -> int:
    """Stop the process right after the k-th accepted mutating call and run the job again, for every k.

    Checks after every accepted call that the stable variant is on the endpoint (unless every step has
    passed), and at the end that the endpoint is where a clean run leaves it, with the same traffic
    shifts as a clean run: none repeated, none skipped.
    """
    expected_live = {"v1": 100.0} if bad else {"v2": 100.0}
    expected_outcomes = {"rolled_back", "refused"} if bad else {"succeeded", "noop"}
    runs: dict[int, list[dict[str, float]]] = {}
    k = 0
    while True:
        k += 1
        aws.mock.reset()  # type: ignore[attr-defined]
        aws.transitional_describes, aws.next_update_outcomes = 1, []
        w = make_world(aws)
        w.traffic.rate = 100.0  # enough for each step to show the candidate within its limits at once
        assert w.deploy(1).outcome == "succeeded"
        faults = Faults(w.clock)
        faults.attach(w.target.sm, w.target.cw)
        if bad:
            w.traffic.behaviours["v2"] = VersionProfile(error_rate=0.05)
        stable_lost: list[str] = []

        def watch(op: str, w: World = w, lost: list[str] = stable_lost) -> None:
            all_steps_passed = w.tags().get("modelcd:step") == str(len(KILL_STEPS.steps))
            if "v1" not in w.live() and not (not bad and all_steps_passed):
                lost.append(f"after {op}: {w.live()}")

        faults.watchers.append(watch)
        faults.kill_after = k
        try:
            report = w.deploy(2, owner="run-1", policy=KILL_STEPS)
        except Killed:
            faults.kill_after = None
            report = w.deploy(2, owner="run-1", policy=KILL_STEPS)  # the re-run of the same job
        else:
            assert report.outcome in expected_outcomes
            runs[0] = faults.weight_requests()
            break
        assert report.outcome in expected_outcomes, f"k={k}: {report.to_markdown()}"
        assert w.live() == expected_live, f"k={k}: {report.to_markdown()}"
        assert stable_lost == [], f"k={k}: stable variant lost {stable_lost}"
        runs[k] = faults.weight_requests()
    clean = runs.pop(0)
    for k, weights in runs.items():
        assert weights == clean, f"k={k}: shifts {weights} differ from a clean run's {clean}"
    return k


def test_killed_after_any_action_a_good_rollout_resumes_to_success(aws: EndpointBehaviour) -> None:
    assert _killed_after_each_action(aws, bad=False) > 10


def test_killed_after_any_action_a_bad_rollout_still_rolls_back(aws: EndpointBehaviour) -> None:
    assert _killed_after_each_action(aws, bad=True) > 8

"""decide() as a table: one observed situation in, exactly one action out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cd.config.model import Analysis, AnalysisPolicy, Bake, RolloutPolicy
from cd.rollout.analysis import AnalysisResult, analyse, measurement_error
from cd.rollout.decide import (
    AddCandidate,
    Complete,
    CreateEndpoint,
    Desired,
    Done,
    Finalize,
    FinishRollback,
    Freeze,
    Hold,
    RecordState,
    Refuse,
    RemoveCandidate,
    RestoreStable,
    RunAnalysis,
    ShiftTraffic,
    Timing,
    Wait,
    decide,
)
from cd.rollout.record import RolloutState, encode
from cd.rollout.target import EndpointStatus, ObservedEndpoint, ObservedVariant, VariantMetrics
from tests.rollout.conftest import POLICY, STEPS, spec

NOW = 10_000.0
DESIRED = Desired("ep", "churn", spec(2), git_sha="abc", owner="me")


def variant(version: int, weight: float) -> ObservedVariant:
    s = spec(version)
    return ObservedVariant(s.name, version, s.image, weight, weight, s.instance_type, s.instance_count)


def state(**changes: object) -> RolloutState:
    base = RolloutState(
        model="churn",
        version=2,
        image=spec(2).image,
        stable_version=1,
        phase="progressing",
        step_index=0,
        steps_hash=STEPS.steps_hash(),
        started_at=NOW - 100,
        step_started_at=NOW - 100,
        window_start=NOW - 100,
        lease_owner="me",
        lease_expires_at=NOW + 3000,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def endpoint(
    *variants: ObservedVariant, record: RolloutState | None = None, status: EndpointStatus = "InService"
) -> ObservedEndpoint:
    return ObservedEndpoint(
        "ep",
        status,
        "cfg",
        tuple(variants),
        encode(record) if record else {},
        "boom" if status == "Failed" else "",
    )


def result(phase: str, step: int, window_start: float = NOW - 100) -> AnalysisResult:
    if phase == "Error":
        return measurement_error("no metrics", step_index=step, window_start=window_start, window_end=NOW)
    metrics = {
        "Successful": VariantMetrics(1000, 0, 1, 50.0, "Average"),
        "Failed": VariantMetrics(1000, 0, 80, 50.0, "Average"),
        "Inconclusive": VariantMetrics(10, 0, 0, 50.0, "Average"),
    }[phase]
    r = analyse(
        metrics,
        VariantMetrics(1000, 0, 1, 50.0),
        (),
        POLICY,
        step_index=step,
        window_start=window_start,
        window_end=NOW,
    )
    assert r.phase == phase
    return r


def run(observed: ObservedEndpoint | None, analysis: AnalysisResult | None = None, policy=STEPS) -> object:  # type: ignore[no-untyped-def]
    return decide(DESIRED, observed, policy, analysis, NOW, Timing())


# ----------------------------------------------------------------------------- start and finish


def test_no_endpoint_creates_it_with_the_candidate_alone() -> None:
    action = run(None)
    assert isinstance(action, CreateEndpoint)
    assert action.variants == (spec(2),) and dict(action.weights) == {"v2": 100.0}
    assert action.record.stable_version is None and action.record.step_index == len(STEPS.steps)


def test_stable_alone_without_record_starts_a_rollout_at_step_zero() -> None:
    action = run(endpoint(variant(1, 1.0)))
    assert isinstance(action, RecordState)
    assert (action.record.phase, action.record.step_index, action.record.stable_version) == (
        "progressing",
        0,
        1,
    )
    assert action.record.lease_owner == "me"


def test_started_rollout_adds_the_candidate_at_weight_zero() -> None:
    action = run(endpoint(variant(1, 1.0), record=state()))
    assert isinstance(action, AddCandidate)
    assert [v.name for v in action.variants] == ["v1", "v2"]
    assert dict(action.weights) == {"v1": 100.0, "v2": 0.0}


def test_candidate_alone_after_success_is_a_noop() -> None:
    action = run(endpoint(variant(2, 1.0), record=state(phase="succeeded", lease_owner="")))
    assert isinstance(action, Done)


def test_candidate_alone_while_progressing_completes() -> None:
    action = run(endpoint(variant(2, 1.0), record=state(step_index=9)))
    assert isinstance(action, Complete)
    assert action.record.phase == "succeeded"


def test_all_steps_passed_finalizes_with_the_candidate_alone() -> None:
    action = run(endpoint(variant(1, 0.0), variant(2, 100.0), record=state(step_index=9)))
    assert isinstance(action, Finalize)
    assert action.variants == (spec(2),) and dict(action.weights) == {"v2": 100.0}


# ----------------------------------------------------------------------------- steps


def test_set_weight_step_shifts_traffic_when_weights_differ() -> None:
    action = run(endpoint(variant(1, 100.0), variant(2, 0.0), record=state(step_index=0)))
    assert isinstance(action, ShiftTraffic)
    assert dict(action.weights) == {"v2": 10.0, "v1": 90.0}


def test_set_weight_step_already_observed_is_recorded_without_shifting_again() -> None:
    action = run(endpoint(variant(1, 90.0), variant(2, 10.0), record=state(step_index=0)))
    assert isinstance(action, RecordState)
    assert action.record.step_index == 1 and action.record.window_start == NOW


def test_weights_are_compared_as_shares_not_raw_numbers() -> None:
    action = run(endpoint(variant(1, 9.0), variant(2, 1.0), record=state(step_index=0)))
    assert isinstance(action, RecordState) and action.record.step_index == 1


def test_bake_not_over_waits_until_the_next_background_check() -> None:
    action = run(
        endpoint(
            variant(1, 90.0),
            variant(2, 10.0),
            record=state(step_index=1, step_started_at=NOW - 10, window_start=NOW - 10),
        )
    )
    assert isinstance(action, Wait)
    assert action.seconds == 50.0


def test_bake_runs_a_background_analysis_once_a_minute_of_traffic_is_in() -> None:
    action = run(
        endpoint(
            variant(1, 90.0),
            variant(2, 10.0),
            record=state(step_index=1, step_started_at=NOW - 90, window_start=NOW - 90),
        )
    )
    assert isinstance(action, RunAnalysis) and action.background


def test_bake_with_a_failed_background_analysis_rolls_back() -> None:
    obs = endpoint(
        variant(1, 90.0),
        variant(2, 10.0),
        record=state(step_index=1, step_started_at=NOW - 90, window_start=NOW - 90),
    )
    action = run(obs, result("Failed", 1, NOW - 90))
    assert isinstance(action, RecordState) and action.record.phase == "rolling_back"
    assert "error_rate" in action.record.reason


def test_bake_with_an_inconclusive_background_analysis_keeps_baking() -> None:
    obs = endpoint(
        variant(1, 90.0),
        variant(2, 10.0),
        record=state(step_index=1, step_started_at=NOW - 90, window_start=NOW - 90),
    )
    action = run(obs, result("Inconclusive", 1, NOW - 90))
    assert isinstance(action, Wait)


def test_bake_over_advances() -> None:
    action = run(
        endpoint(variant(1, 90.0), variant(2, 10.0), record=state(step_index=1, step_started_at=NOW - 300))
    )
    assert isinstance(action, RecordState) and action.record.step_index == 2


def test_analysis_step_without_result_asks_for_one_over_the_window_since_traffic_changed() -> None:
    action = run(
        endpoint(variant(1, 90.0), variant(2, 10.0), record=state(step_index=2, window_start=NOW - 300))
    )
    assert isinstance(action, RunAnalysis)
    assert (action.window_start, action.window_end, action.background) == (NOW - 300, NOW, False)


def test_successful_analysis_advances_and_resets_inconclusive_count() -> None:
    obs = endpoint(variant(1, 90.0), variant(2, 10.0), record=state(step_index=2, inconclusive=2))
    action = run(obs, result("Successful", 2))
    assert isinstance(action, RecordState)
    assert (action.record.step_index, action.record.inconclusive) == (3, 0)


def test_failed_analysis_begins_rollback_with_the_numbers() -> None:
    action = run(
        endpoint(variant(1, 90.0), variant(2, 10.0), record=state(step_index=2)), result("Failed", 2)
    )
    assert isinstance(action, RecordState) and action.record.phase == "rolling_back"
    assert "80/1000 = 8.00%" in action.record.reason


def test_inconclusive_analysis_holds_and_counts() -> None:
    action = run(
        endpoint(variant(1, 90.0), variant(2, 10.0), record=state(step_index=2)), result("Inconclusive", 2)
    )
    assert isinstance(action, RecordState)
    assert (action.record.phase, action.record.inconclusive, action.wait_seconds) == ("progressing", 1, 60.0)


def test_inconclusive_analysis_is_retried_after_at_most_the_steps_bake() -> None:
    short = replace(
        STEPS, steps=tuple(replace(s, seconds=4.0) if isinstance(s, Bake) else s for s in STEPS.steps)
    )
    observed = endpoint(
        variant(1, 90.0), variant(2, 10.0), record=state(step_index=2, steps_hash=short.steps_hash())
    )
    action = run(observed, result("Inconclusive", 2), policy=short)
    assert isinstance(action, RecordState)
    assert action.wait_seconds == 4.0


def test_inconclusive_beyond_the_limit_rolls_back_when_the_policy_says_rollback() -> None:
    action = run(
        endpoint(variant(1, 90.0), variant(2, 10.0), record=state(step_index=2, inconclusive=3)),
        result("Inconclusive", 2),
    )
    assert isinstance(action, RecordState) and action.record.phase == "rolling_back"


def _at_the_inconclusive_limit_of_a_pause_policy() -> tuple[ObservedEndpoint, RolloutPolicy]:
    """An endpoint at step 3 whose analysis policy pauses on inconclusive, with the limit reached."""
    paused_policy = replace(POLICY, on_inconclusive="pause")
    policy = replace(STEPS, steps=(*STEPS.steps[:2], Analysis(paused_policy), *STEPS.steps[3:]))
    obs = endpoint(
        variant(1, 90.0),
        variant(2, 10.0),
        record=state(step_index=2, inconclusive=3, steps_hash=policy.steps_hash()),
    )
    return obs, policy


def test_inconclusive_beyond_the_limit_pauses_when_the_policy_says_pause() -> None:
    obs, policy = _at_the_inconclusive_limit_of_a_pause_policy()
    action = run(obs, result("Inconclusive", 2), policy=policy)
    assert isinstance(action, RecordState) and action.record.phase == "paused"


def test_error_beyond_the_limit_rolls_back_even_when_the_policy_says_pause() -> None:
    obs, policy = _at_the_inconclusive_limit_of_a_pause_policy()
    action = run(obs, result("Error", 2), policy=policy)
    assert isinstance(action, RecordState) and action.record.phase == "rolling_back"


def test_an_analysis_of_another_window_is_not_used() -> None:
    obs = endpoint(variant(1, 90.0), variant(2, 10.0), record=state(step_index=2, window_start=NOW - 50))
    assert isinstance(run(obs, result("Successful", 2, NOW - 100)), RunAnalysis)


def test_changed_steps_restart_at_step_zero() -> None:
    action = run(endpoint(variant(1, 50.0), variant(2, 50.0), record=state(step_index=5, steps_hash="0000")))
    assert isinstance(action, RecordState)
    assert (action.record.step_index, action.record.steps_hash) == (0, STEPS.steps_hash())


# ----------------------------------------------------------------------------- rollback


def test_rollback_first_restores_all_traffic_to_stable() -> None:
    action = run(
        endpoint(variant(1, 50.0), variant(2, 50.0), record=state(phase="rolling_back", step_index=5))
    )
    assert isinstance(action, RestoreStable)
    assert dict(action.weights) == {"v1": 100.0, "v2": 0.0}


def test_rollback_removes_the_candidate_only_once_stable_is_seen_at_100() -> None:
    action = run(
        endpoint(variant(1, 100.0), variant(2, 0.0), record=state(phase="rolling_back", step_index=5))
    )
    assert isinstance(action, RemoveCandidate)
    assert action.variants == (spec(1),) and dict(action.weights) == {"v1": 100.0}


def test_rollback_finishes_when_stable_serves_alone() -> None:
    action = run(endpoint(variant(1, 1.0), record=state(phase="rolling_back", step_index=5)))
    assert isinstance(action, FinishRollback)
    assert action.record.phase == "rolled_back"


def test_rolled_back_version_is_not_retried_by_a_rerun() -> None:
    action = run(endpoint(variant(1, 1.0), record=state(phase="rolled_back", lease_owner="", reason="bad")))
    assert isinstance(action, Refuse)
    assert "v2 was rolled back on ep: bad" in action.message


def test_candidate_vanishing_mid_rollout_rolls_back() -> None:
    action = run(endpoint(variant(1, 100.0), record=state(step_index=4)))
    assert isinstance(action, RecordState) and action.record.phase == "rolling_back"


def test_an_active_rollout_of_another_version_is_rolled_back_first() -> None:
    obs = endpoint(
        variant(1, 90.0), variant(3, 10.0), record=state(version=3, image=spec(3).image, step_index=2)
    )
    action = run(obs)
    assert isinstance(action, RecordState) and action.record.phase == "rolling_back"
    assert action.record.version == 3 and "superseded" in action.record.reason


# ----------------------------------------------------------------------------- refuse, freeze, wait, pause


def test_lease_held_by_another_run_refuses() -> None:
    action = run(
        endpoint(variant(1, 90.0), variant(2, 10.0), record=state(lease_owner="other", step_index=1))
    )
    assert isinstance(action, Refuse)
    assert "leased by 'other'" in action.message


def test_expired_lease_of_another_run_is_taken_over() -> None:
    obs = endpoint(
        variant(1, 90.0),
        variant(2, 10.0),
        record=state(lease_owner="other", lease_expires_at=NOW - 1, step_index=1),
    )
    assert isinstance(run(obs), RecordState)  # renews the lease under our name


def test_lease_close_to_expiry_is_renewed_first() -> None:
    action = run(
        endpoint(variant(1, 90.0), variant(2, 10.0), record=state(lease_expires_at=NOW + 60, step_index=1))
    )
    assert isinstance(action, RecordState) and action.message == "renew lease"


@pytest.mark.parametrize("status", ["Failed", "UpdateRollbackFailed", "OutOfService"])
def test_broken_endpoint_freezes(status: EndpointStatus) -> None:
    action = run(endpoint(variant(1, 90.0), variant(2, 10.0), record=state(step_index=1), status=status))
    assert isinstance(action, Freeze)
    assert action.record is not None and action.record.phase == "frozen"
    assert f"endpoint ep is {status}" in action.message


@pytest.mark.parametrize("status", ["Creating", "Updating", "SystemUpdating", "RollingBack"])
def test_endpoint_in_transition_is_waited_for(status: EndpointStatus) -> None:
    action = run(endpoint(variant(1, 90.0), variant(2, 10.0), record=state(step_index=1), status=status))
    assert isinstance(action, Wait) and action.seconds == 30.0


def test_paused_rollout_holds() -> None:
    assert isinstance(
        run(endpoint(variant(1, 90.0), variant(2, 10.0), record=state(phase="paused", step_index=2))), Hold
    )


def test_several_variants_without_a_rollout_refuse() -> None:
    action = run(endpoint(variant(1, 50.0), variant(3, 50.0)))
    assert isinstance(action, Refuse) and "no rollout is in progress" in action.message


def test_a_variant_modelcd_did_not_name_is_refused() -> None:
    foreign = ObservedVariant("AllTraffic", None, "img", 1.0, 1.0, "ml.m5.large", 1)
    action = run(endpoint(foreign))
    assert isinstance(action, Refuse) and "'AllTraffic'" in action.message


def test_stable_missing_during_rollback_freezes() -> None:
    assert isinstance(
        run(endpoint(variant(2, 100.0), variant(3, 0.0), record=state(phase="rolling_back"))), Freeze
    )


def test_analysis_policy_alarm_names_reach_run_analysis() -> None:
    policy = replace(STEPS, analysis=AnalysisPolicy(alarms=("a",)))
    obs = endpoint(
        variant(1, 90.0),
        variant(2, 10.0),
        record=state(
            step_index=1, step_started_at=NOW - 90, window_start=NOW - 90, steps_hash=policy.steps_hash()
        ),
    )
    action = run(obs, policy=policy)
    assert isinstance(action, RunAnalysis) and action.policy.alarms == ("a",)

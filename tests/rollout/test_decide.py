"""decide() as a table: one observed situation in, exactly one action out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cd.config.model import (
    Analysis,
    AnalysisPolicy,
    Experiment,
    ExperimentPolicy,
    RolloutPolicy,
    SetWeight,
    Shadow,
)
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
    StartShadow,
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
    minutes = tuple((60.0 * i, 50.0) for i in range(10))
    metrics = {
        "Successful": VariantMetrics(5000, 0, 5, 50.0, "Average", latency_minutes=minutes),
        "Failed": VariantMetrics(1000, 0, 80, 50.0, "Average", latency_minutes=minutes),
        "Inconclusive": VariantMetrics(10, 0, 0, 50.0, "Average", latency_minutes=minutes[:1]),
    }[phase]
    r = analyse(
        metrics,
        VariantMetrics(20_000, 0, 20, 50.0, "Average", latency_minutes=minutes),
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
    assert action.record.step_index == 1
    assert action.record.window_start == NOW - 100  # one test over the whole rollout: never reset


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


def test_inconclusive_analysis_extends_the_step_and_looks_again_when_data_arrives() -> None:
    action = run(
        endpoint(variant(1, 90.0), variant(2, 10.0), record=state(step_index=2)), result("Inconclusive", 2)
    )
    assert isinstance(action, RecordState)
    assert (action.record.phase, action.wait_seconds) == ("progressing", Timing().look_seconds)
    assert "step extended (2 min of 30 min)" in action.record.reason
    assert action.record.evidence.startswith("Inconclusive; requests uncertain 10")


def test_an_extension_looks_as_often_as_the_target_has_data() -> None:
    observed = endpoint(variant(1, 90.0), variant(2, 10.0), record=state(step_index=2))
    action = decide(DESIRED, observed, STEPS, result("Inconclusive", 2), NOW, Timing(look_seconds=1.0))
    assert isinstance(action, RecordState) and action.wait_seconds == 1.0


def test_the_last_look_of_an_extension_is_at_its_end() -> None:
    extension = POLICY.max_extension
    observed = endpoint(
        variant(1, 90.0), variant(2, 10.0), record=state(step_index=2, step_started_at=NOW - extension + 5)
    )
    action = run(observed, result("Inconclusive", 2))
    assert isinstance(action, RecordState) and action.wait_seconds == 5.0


def _extended_to_the_limit(policy: RolloutPolicy = STEPS) -> ObservedEndpoint:
    started = NOW - POLICY.max_extension
    return endpoint(
        variant(1, 90.0),
        variant(2, 10.0),
        record=state(step_index=2, step_started_at=started, steps_hash=policy.steps_hash()),
    )


def test_inconclusive_beyond_the_extension_rolls_back_when_the_policy_says_rollback() -> None:
    action = run(_extended_to_the_limit(), result("Inconclusive", 2))
    assert isinstance(action, RecordState) and action.record.phase == "rolling_back"
    assert action.record.reason.endswith("(on_inconclusive: rollback)")


def _pause_policy() -> RolloutPolicy:
    paused_policy = replace(POLICY, on_inconclusive="pause")
    return replace(STEPS, steps=(*STEPS.steps[:2], Analysis(paused_policy), *STEPS.steps[3:]))


def test_inconclusive_beyond_the_extension_pauses_when_the_policy_says_pause() -> None:
    policy = _pause_policy()
    action = run(_extended_to_the_limit(policy), result("Inconclusive", 2), policy=policy)
    assert isinstance(action, RecordState) and action.record.phase == "paused"
    assert "still Inconclusive after extending the step by 30 min" in action.record.reason


def test_too_little_data_never_rolls_back_under_the_default_policy() -> None:
    assert AnalysisPolicy().on_inconclusive == "pause"


def _at_the_unreadable_limit() -> tuple[ObservedEndpoint, RolloutPolicy]:
    policy = _pause_policy()
    obs = endpoint(
        variant(1, 90.0),
        variant(2, 10.0),
        record=state(step_index=2, inconclusive=3, steps_hash=policy.steps_hash()),
    )
    return obs, policy


def test_unreadable_metrics_are_retried_and_counted() -> None:
    action = run(endpoint(variant(1, 90.0), variant(2, 10.0), record=state(step_index=2)), result("Error", 2))
    assert isinstance(action, RecordState)
    assert (action.record.phase, action.record.inconclusive) == ("progressing", 1)
    assert action.record.reason.startswith("step 3/9: metrics unreadable, retry 1 of 3: ")


def test_error_beyond_the_limit_rolls_back_even_when_the_policy_says_pause() -> None:
    obs, policy = _at_the_unreadable_limit()
    action = run(obs, result("Error", 2), policy=policy)
    assert isinstance(action, RecordState) and action.record.phase == "rolling_back"
    assert "metrics unreadable 4 times in a row (max_inconclusive 3)" in action.record.reason  # not "4/3"


def test_an_analysis_of_another_window_is_not_used() -> None:
    obs = endpoint(variant(1, 90.0), variant(2, 10.0), record=state(step_index=2, window_start=NOW - 50))
    assert isinstance(run(obs, result("Successful", 2, NOW - 100)), RunAnalysis)


def test_a_step_passes_only_when_the_candidate_is_shown_within_the_limits() -> None:
    """No evidence of harm is not enough: 0 errors in 300 requests cannot show a rate under 1 %."""
    minutes = tuple((60.0 * i, 50.0) for i in range(10))
    quiet = analyse(
        VariantMetrics(300, 0, 0, 50.0, "Average", latency_minutes=minutes),
        VariantMetrics(20_000, 0, 20, 50.0, "Average", latency_minutes=minutes),
        (),
        POLICY,
        step_index=2,
        window_start=NOW - 100,
        window_end=NOW,
    )
    assert quiet.phase == "Inconclusive"
    action = run(endpoint(variant(1, 90.0), variant(2, 10.0), record=state(step_index=2)), quiet)
    assert isinstance(action, RecordState) and action.record.step_index == 2


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


def test_lease_of_a_run_known_to_have_ended_is_taken_over_before_it_expires() -> None:
    obs = endpoint(variant(1, 90.0), variant(2, 10.0), record=state(lease_owner="other", step_index=1))
    action = decide(replace(DESIRED, gone_owners=frozenset({"other"})), obs, STEPS, None, NOW)
    assert isinstance(action, RecordState) and action.message == "take the lease from 'other'"


def test_a_rollout_git_no_longer_wants_is_rolled_back_whoever_holds_its_lease() -> None:
    obs = endpoint(
        variant(1, 90.0),
        variant(3, 10.0),
        record=state(version=3, image=spec(3).image, step_index=2, lease_owner="dead-run"),
    )
    action = run(obs)
    assert isinstance(action, RecordState) and action.record.phase == "rolling_back"
    assert "superseded" in action.record.reason


def test_a_rollback_another_live_run_drives_is_waited_for() -> None:
    obs = endpoint(
        variant(1, 100.0),
        variant(3, 0.0),
        record=state(version=3, image=spec(3).image, phase="rolling_back", lease_owner="oncall"),
    )
    action = run(obs)
    assert isinstance(action, Wait) and "'oncall' is rolling back v3" in action.message


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


# ----------------------------------------------------------------------------- shadow

SHADOWED = replace(STEPS, steps=(Shadow(300.0), *STEPS.steps))


def shadow_state(**changes: object) -> RolloutState:
    return state(steps_hash=SHADOWED.steps_hash(), **changes)


def with_shadow(*variants: ObservedVariant, record: RolloutState) -> ObservedEndpoint:
    return replace(endpoint(*variants, record=record), shadow=variant(2, 0.0))


def test_a_shadow_step_copies_traffic_to_the_candidate_while_stable_keeps_every_request() -> None:
    action = run(endpoint(variant(1, 100.0), record=shadow_state()), policy=SHADOWED)
    assert isinstance(action, StartShadow)
    assert [v.name for v in action.variants] == ["v1"] and dict(action.weights) == {"v1": 100.0}
    assert action.shadow == spec(2)


def test_a_shadow_step_in_progress_bakes_and_looks_for_harm() -> None:
    observed = with_shadow(variant(1, 100.0), record=shadow_state(step_started_at=NOW - 90))
    action = run(observed, policy=SHADOWED)
    assert isinstance(action, RunAnalysis) and action.background


def test_a_shadow_that_fails_its_analysis_rolls_back_by_removing_the_shadow() -> None:
    observed = with_shadow(variant(1, 100.0), record=shadow_state(step_started_at=NOW - 90))
    action = run(observed, result("Failed", 0), policy=SHADOWED)
    assert isinstance(action, RecordState) and action.record.phase == "rolling_back"
    assert action.record.reason.startswith("step 1/10 (shadow, background analysis)")
    rolling = with_shadow(variant(1, 100.0), record=shadow_state(phase="rolling_back"))
    removal = run(rolling, policy=SHADOWED)
    assert isinstance(removal, RemoveCandidate) and [v.name for v in removal.variants] == ["v1"]


def test_a_shadow_step_over_advances() -> None:
    observed = with_shadow(variant(1, 100.0), record=shadow_state(step_started_at=NOW - 300))
    action = run(observed, policy=SHADOWED)
    assert isinstance(action, RecordState) and action.record.step_index == 1
    assert action.record.reason == "step 1/10: shadowed 300s"


def test_after_the_shadow_the_candidate_joins_at_weight_zero() -> None:
    observed = with_shadow(variant(1, 100.0), record=shadow_state(step_index=1))
    action = run(observed, policy=SHADOWED)
    assert isinstance(action, AddCandidate)
    assert dict(action.weights) == {"v1": 100.0, "v2": 0.0}


def test_a_shadow_that_disappeared_mid_step_starts_again_rather_than_passing_unwatched() -> None:
    action = run(endpoint(variant(1, 100.0), record=shadow_state(step_started_at=NOW - 90)), policy=SHADOWED)
    assert isinstance(action, StartShadow)


def test_a_shadow_steps_clock_starts_once_the_shadow_is_live() -> None:
    action = run(endpoint(variant(1, 100.0), record=shadow_state()), policy=SHADOWED)
    assert isinstance(action, StartShadow)
    assert action.record.step_index == 0  # the controller stamps step_started_at after the change


SPLIT = RolloutPolicy(
    "experiment",
    (SetWeight(50), Experiment(7 * 86400)),
    POLICY,
    experiment=ExperimentPolicy(metric="retained"),
)
SPLIT_STATE = {"steps_hash": SPLIT.steps_hash()}


@pytest.mark.parametrize(
    ("observed", "action", "phase"),
    [
        # the experiment step: the split is held and recorded as an experiment, from now on
        (
            endpoint(variant(1, 50), variant(2, 50), record=state(step_index=1, **SPLIT_STATE)),
            RecordState,
            "experimenting",
        ),
        # while it runs, a deploy holds (and succeeds): `modelcd experiment` decides
        (
            endpoint(
                variant(1, 50),
                variant(2, 50),
                record=state(step_index=1, phase="experimenting", **SPLIT_STATE),
            ),
            Hold,
            None,
        ),
    ],
    ids=["starts", "holds"],
)
def test_an_experiment_step(observed: ObservedEndpoint, action: type, phase: str | None) -> None:
    got = decide(DESIRED, observed, SPLIT, None, NOW)
    assert isinstance(got, action)
    if isinstance(got, RecordState):
        assert (got.record.phase, got.record.step_started_at) == (phase, NOW)
    if isinstance(got, Hold):
        assert got.experiment


# ----------------------------------------------------------------------------- experiments with challengers

THREE_WAY = Desired("ep", "churn", spec(2), git_sha="abc", owner="me", challengers=(spec(3),))
SPLIT3 = RolloutPolicy(
    "experiment",
    (SetWeight(30), Experiment(7 * 86400)),
    POLICY,
    experiment=ExperimentPolicy(metric="retained"),
)
SPLIT3_STATE = {"steps_hash": SPLIT3.steps_hash(), "challengers": (3,)}


def three_way(observed: ObservedEndpoint | None) -> object:
    return decide(THREE_WAY, observed, SPLIT3, None, NOW, Timing())


@pytest.mark.parametrize(
    ("observed", "kind", "weights"),
    [
        # stable alone: the rollout starts, recording the challengers with it
        (endpoint(variant(1, 100)), RecordState, None),
        # started: the candidate and every challenger are added at weight 0
        (
            endpoint(variant(1, 100), record=state(**SPLIT3_STATE)),
            AddCandidate,
            {"v1": 100, "v2": 0, "v3": 0},
        ),
        # added: each version beside stable gets the step's weight, stable the rest
        (
            endpoint(variant(1, 100), variant(2, 0), variant(3, 0), record=state(**SPLIT3_STATE)),
            ShiftTraffic,
            {"v2": 30, "v3": 30, "v1": 40},
        ),
        # read back at 40/30/30: the step is done
        (
            endpoint(variant(1, 40), variant(2, 30), variant(3, 30), record=state(**SPLIT3_STATE)),
            RecordState,
            None,
        ),
    ],
    ids=["starts", "adds-all", "splits", "split-read-back"],
)
def test_a_three_way_experiment_splits_traffic_evenly_beside_stable(
    observed: ObservedEndpoint, kind: type, weights: dict[str, float] | None
) -> None:
    action = three_way(observed)
    assert isinstance(action, kind)
    if weights is not None:
        assert dict(action.weights) == weights  # type: ignore[attr-defined]
    if isinstance(action, RecordState):
        assert action.record.challengers == (3,)


def test_a_three_way_split_read_back_advances_to_the_experiment_step() -> None:
    action = three_way(endpoint(variant(1, 40), variant(2, 30), variant(3, 30), record=state(**SPLIT3_STATE)))
    assert isinstance(action, RecordState) and action.record.step_index == 1


def test_a_challenger_that_disappeared_rolls_the_experiment_back() -> None:
    action = three_way(endpoint(variant(1, 40), variant(2, 60), record=state(step_index=1, **SPLIT3_STATE)))
    assert isinstance(action, RecordState) and action.record.phase == "rolling_back"
    assert "challenger v3 disappeared" in action.record.reason


def test_changing_the_challengers_in_git_supersedes_the_running_experiment() -> None:
    other = replace(THREE_WAY, challengers=(spec(4),))
    observed = endpoint(
        variant(1, 40),
        variant(2, 30),
        variant(3, 30),
        record=state(step_index=1, phase="experimenting", lease_owner="", **SPLIT3_STATE),
    )
    action = decide(other, observed, SPLIT3, None, NOW, Timing())
    assert isinstance(action, RecordState) and action.record.phase == "rolling_back"
    assert action.record.reason == "superseded: git now asks for v2 with challengers v4"


def test_a_running_three_way_experiment_holds() -> None:
    observed = endpoint(
        variant(1, 40),
        variant(2, 30),
        variant(3, 30),
        record=state(step_index=1, phase="experimenting", lease_owner="", **SPLIT3_STATE),
    )
    action = three_way(observed)
    assert isinstance(action, Hold) and action.experiment
    assert action.message.startswith("experiment v2 with challengers v3 vs stable is running")


def test_an_experiment_with_challengers_needs_an_endpoint_with_a_stable_version() -> None:
    action = three_way(None)
    assert isinstance(action, Refuse)
    assert "an experiment compares its versions with a stable one" in action.message


def test_a_challenger_that_is_stable_already_is_refused() -> None:
    action = decide(replace(THREE_WAY, challengers=(spec(1),)), endpoint(variant(1, 100)), SPLIT3, None, NOW)
    assert isinstance(action, Refuse) and "names as a challenger" in action.message


def test_after_the_experiment_the_winners_finalize_removes_stable_and_the_other_versions() -> None:
    won = state(step_index=2, **SPLIT3_STATE)
    action = three_way(endpoint(variant(1, 40), variant(2, 30), variant(3, 30), record=won))
    assert isinstance(action, Finalize) and action.variants == (spec(2),)


def test_the_version_that_won_over_its_challengers_is_done_while_git_still_names_them() -> None:
    won = state(step_index=2, phase="succeeded", lease_owner="", **SPLIT3_STATE)
    action = three_way(endpoint(variant(2, 100), record=won))
    assert isinstance(action, Done)
    assert action.message == "ep already serves v2 alone (it won the experiment over v3)"


def test_a_challenger_that_won_is_what_git_asks_for_until_git_names_it() -> None:
    from cd.rollout.decide import as_decided

    won = state(version=3, image=spec(3).image, phase="succeeded", lease_owner="", outvoted=2, **SPLIT3_STATE)
    won = replace(won, challengers=())
    observed = endpoint(variant(3, 100), record=won)
    wanted = as_decided(THREE_WAY, observed)
    assert (wanted.candidate, wanted.challengers) == (spec(3), ())
    action = decide(wanted, observed, SPLIT3, None, NOW, Timing())
    assert isinstance(action, Done)
    assert action.message == "ep already serves v3 alone (it won the experiment over v2)"


def test_a_version_already_alone_cannot_be_an_experiments_new_version() -> None:
    action = three_way(endpoint(variant(2, 100), record=state(phase="succeeded", lease_owner="")))
    assert isinstance(action, Refuse)
    assert action.message == (
        "ep serves v2 alone already, and an experiment compares new versions with the one that serves: "
        "to test v3 against v2, set version: 3 (and challengers: for more)"
    )

"""`decide(desired, observed, policy, analysis, now) -> Action`: the whole rollout logic, pure.

The controller observes the target, calls `decide`, performs the one action it returns, records, and
repeats. Because every decision starts from what is observed (the endpoint and the rollout record on
it), a run that was killed between any two actions is resumed by running again.

Invariants this module guarantees (table-tested in tests/rollout/test_decide.py):
- The stable variant is only removed by `Finalize`, after every step passed.
- Rollback first restores 100 % to stable (`RestoreStable`) and only once that is observed removes the
  candidate (`RemoveCandidate`).
- A step's traffic shift is issued only when the observed weights differ from the step's weights; once
  they match, the step is recorded as done (`RecordState`) without shifting again.
- A broken endpoint (Failed, UpdateRollbackFailed, OutOfService) freezes the rollout; an endpoint in
  transition is waited for; another run's unexpired lease refuses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from cd.config.model import (
    Analysis,
    AnalysisPolicy,
    Bake,
    Experiment,
    NativeTraffic,
    RolloutPolicy,
    SetWeight,
    Shadow,
    Step,
)
from cd.humantime import describe_duration, describe_time
from cd.rollout.analysis import AnalysisResult, evidence_line
from cd.rollout.record import RolloutState, decode
from cd.rollout.target import ObservedEndpoint, ObservedVariant, VariantSpec, variant_name

WEIGHT_TOLERANCE = 0.01  # percentage points


@dataclass(frozen=True)
class Desired:
    """What git asks for on one endpoint, and who is asking (the lease owner)."""

    endpoint: str
    model: str
    candidate: VariantSpec
    git_sha: str = ""
    # an experiment between more than two versions: these join the candidate beside stable, each with
    # the candidate's share; only `modelcd experiment` decides which one stays
    challengers: tuple[VariantSpec, ...] = ()
    owner: str = ""
    # Lease holders known to have ended (an earlier attempt of this Actions run, a dead local process):
    # their leases count as expired. The controller fills it from the observed record.
    gone_owners: frozenset[str] = frozenset()

    @property
    def challenger_versions(self) -> tuple[int, ...]:
        return tuple(c.model_version for c in self.challengers)

    @property
    def arms(self) -> tuple[VariantSpec, ...]:
        """The versions beside stable that get traffic: the candidate, then each challenger."""
        return (self.candidate, *self.challengers)

    def describe(self) -> str:
        """`v4`, or `v4 with challengers v3, v5`."""
        extra = f" with challengers {', '.join(c.name for c in self.challengers)}" if self.challengers else ""
        return self.candidate.name + extra


@dataclass(frozen=True)
class Timing:
    poll_seconds: float = 30.0  # while the endpoint is Updating/Creating
    # How often the analysis looks: as often as new data arrives (a CloudWatch minute on SageMaker,
    # a second on the local router). The tests stay valid however many looks are taken.
    look_seconds: float = 60.0


# ------------------------------------------------------------------------------------------ actions


@dataclass(frozen=True)
class CreateEndpoint:
    """First deploy: create the endpoint serving the candidate alone, then write `record`."""

    variants: tuple[VariantSpec, ...]
    weights: Mapping[str, float]
    record: RolloutState
    message: str


@dataclass(frozen=True)
class AddCandidate:
    """Replace the variant set with stable + candidate, candidate at weight 0."""

    variants: tuple[VariantSpec, ...]
    weights: Mapping[str, float]
    message: str


@dataclass(frozen=True)
class StartShadow:
    """Keep stable at 100 % and add the candidate in shadow mode (a copy of every request); once that
    is live, write `record`: the shadow step's clock starts then, not while the candidate was starting."""

    variants: tuple[VariantSpec, ...]
    weights: Mapping[str, float]
    shadow: VariantSpec
    record: RolloutState
    message: str


@dataclass(frozen=True)
class NativeShift:
    """`strategy: sagemaker_canary|linear`: replace the variant set with the candidate alone and let
    SageMaker shift the traffic itself (blue/green, rolled back by alarms); once the update is accepted,
    write `record` (step 1: the update was issued). The rollout then goes on without this run."""

    variants: tuple[VariantSpec, ...]
    weights: Mapping[str, float]
    traffic: NativeTraffic
    record: RolloutState
    message: str


@dataclass(frozen=True)
class ShiftTraffic:
    """Set the weights of step `step_index` (a SetWeight step)."""

    step_index: int
    weights: Mapping[str, float]
    message: str


@dataclass(frozen=True)
class Finalize:
    """Every step passed: replace the variant set with the candidate alone."""

    variants: tuple[VariantSpec, ...]
    weights: Mapping[str, float]
    message: str


@dataclass(frozen=True)
class RestoreStable:
    """Rollback, first half: 100 % to stable."""

    weights: Mapping[str, float]
    message: str


@dataclass(frozen=True)
class RemoveCandidate:
    """Rollback, second half (stable verified at 100 %): replace the variant set with stable alone."""

    variants: tuple[VariantSpec, ...]
    weights: Mapping[str, float]
    message: str


@dataclass(frozen=True)
class RecordState:
    """Write `record` (start, step passed, analysis held, rollback begun, pause); then wait."""

    record: RolloutState
    message: str
    wait_seconds: float = 0.0


@dataclass(frozen=True)
class RunAnalysis:
    """Read metrics for the window and call `decide` again with the result."""

    step_index: int
    policy: AnalysisPolicy
    window_start: float
    window_end: float
    background: bool  # during a bake: only a Failed result acts
    message: str


@dataclass(frozen=True)
class Wait:
    seconds: float
    message: str


@dataclass(frozen=True)
class Complete:
    """Terminal, success: write `record` (succeeded), set the alias, clean up superseded resources."""

    record: RolloutState
    keep: tuple[VariantSpec, ...]
    message: str


@dataclass(frozen=True)
class FinishRollback:
    """Terminal, failure: stable alone again; write `record` (rolled_back), clean up."""

    record: RolloutState
    keep: tuple[VariantSpec, ...]
    message: str


@dataclass(frozen=True)
class Freeze:
    """Terminal, failure: the endpoint is broken. No further traffic steps; a human must look."""

    record: RolloutState | None
    message: str


@dataclass(frozen=True)
class Refuse:
    """Terminal, failure, nothing changed (lease held by another run, endpoint in an unknown shape)."""

    message: str


@dataclass(frozen=True)
class Hold:
    """Terminal: the rollout is paused (`modelcd resume` continues it), or holds an experiment's split
    (`modelcd experiment` decides it)."""

    message: str
    experiment: bool = False


@dataclass(frozen=True)
class Done:
    """Terminal: the endpoint already matches git."""

    message: str


Action = (
    CreateEndpoint
    | AddCandidate
    | StartShadow
    | NativeShift
    | ShiftTraffic
    | Finalize
    | RestoreStable
    | RemoveCandidate
    | RecordState
    | RunAnalysis
    | Wait
    | Complete
    | FinishRollback
    | Freeze
    | Refuse
    | Hold
    | Done
)
TERMINAL_ACTIONS = (Complete, FinishRollback, Freeze, Refuse, Hold, Done)

# ------------------------------------------------------------------------------------------ helpers


def spec_of(variant: ObservedVariant) -> VariantSpec:
    """The spec that re-creates an observed variant (used to keep stable when removing others)."""
    assert variant.model_version is not None
    return VariantSpec(variant.model_version, variant.image, variant.instance_type, variant.instance_count)


def _weight(observed: ObservedEndpoint, name: str) -> float:
    return observed.weights.get(name, 0.0)


def _weights_match(observed: ObservedEndpoint, wanted: Mapping[str, float]) -> bool:
    return all(abs(_weight(observed, n) - w) <= WEIGHT_TOLERANCE for n, w in wanted.items())


def _new_state(
    desired: Desired, policy: RolloutPolicy, stable: int | None, now: float, step: int
) -> RolloutState:
    return RolloutState(
        model=desired.model,
        version=desired.candidate.model_version,
        image=desired.candidate.image,
        stable_version=stable,
        phase="progressing",
        step_index=step,
        steps_hash=policy.steps_hash(),
        started_at=now,
        step_started_at=now,
        window_start=now,
        git_sha=desired.git_sha,
        lease_owner=desired.owner,
        lease_expires_at=now + policy.lease_seconds,
        challengers=desired.challenger_versions,
    )


def _advance(state: RolloutState, now: float, reason: str) -> RolloutState:
    """The next step. The analysis window is never reset: one sequential test runs over the whole
    rollout, so its error bound holds for the rollout, not per step."""
    return replace(state, step_index=state.step_index + 1, step_started_at=now, inconclusive=0, reason=reason)


def _take_lease(state: RolloutState) -> RecordState:
    previous = f"from {state.lease_owner!r}" if state.lease_owner else "(none held)"
    return RecordState(state, f"take the lease {previous}")


def _begin_rollback(state: RolloutState, reason: str) -> RecordState:
    return RecordState(replace(state, phase="rolling_back", reason=reason), f"roll back: {reason}")


def as_decided(desired: Desired, observed: ObservedEndpoint | None) -> Desired:
    """What git asks for, once an experiment has decided it: git names an experiment (its version and
    challengers), a challenger won it, and the record rolls the winner out (`outvoted` is git's version).
    Until the PR that sets git to the winner merges, the winner alone is what git's experiment asks for."""
    state = decode(observed.record) if observed is not None else None
    if state is None or state.outvoted != desired.candidate.model_version:
        return desired
    winner = next((c for c in desired.challengers if c.model_version == state.version), None)
    return desired if winner is None else replace(desired, candidate=winner, challengers=())


# ------------------------------------------------------------------------------------------ decide


def decide(
    desired: Desired,
    observed: ObservedEndpoint | None,
    policy: RolloutPolicy,
    analysis: AnalysisResult | None,
    now: float,
    timing: Timing = Timing(),
) -> Action:
    """The one next action that brings `observed` closer to `desired` under `policy`."""
    candidate = desired.candidate
    if observed is None and desired.challengers:
        return Refuse(
            f"{desired.endpoint} does not exist: an experiment compares its versions with a stable one; "
            f"deploy {candidate.name} alone first, then add the challengers"
        )
    if observed is None:
        record = _new_state(desired, policy, None, now, step=len(policy.steps))
        return CreateEndpoint(
            (candidate,),
            {candidate.name: 100.0},
            record,
            f"first deploy: create endpoint with {candidate.name}",
        )
    state = decode(observed.record)
    held = (
        state is not None
        and state.leased_by_other(desired.owner, now)
        and state.lease_owner not in desired.gone_owners
    )
    superseded = (
        state is not None
        and state.active
        and (state.version, state.challengers) != (candidate.model_version, desired.challenger_versions)
    )
    if held and superseded and state is not None and state.phase == "rolling_back":
        return Wait(
            timing.poll_seconds,
            f"{state.lease_owner!r} is rolling back v{state.version} on {observed.name}; waiting for it",
        )
    if held and not superseded and state is not None:
        return Refuse(
            f"a rollout of v{state.version} on {observed.name} is in progress ({state.phase}, step "
            f"{state.step_index}), leased by {state.lease_owner!r} until {describe_time(state.lease_expires_at, now)}; "
            f"wait for it, or `modelcd abort` it"
        )
    if observed.broken:
        reason = (
            f"endpoint {observed.name} is {observed.status}: {observed.failure_reason or 'no reason given'}"
        )
        frozen = replace(state, phase="frozen", reason=reason) if state is not None else None
        return Freeze(frozen, f"freeze: {reason}; no further traffic steps until a human fixes it")
    if observed.transitional:
        return Wait(timing.poll_seconds, f"endpoint {observed.name} is {observed.status}")
    if state is None or not state.active:
        return _decide_idle(desired, observed, policy, state, now)
    if state.phase == "rolling_back":
        if state.lease_owner != desired.owner:  # claim it first: one run drives a rollback
            return _take_lease(state)
        if policy.native is not None and [v.name for v in observed.variants] == [f"v{state.version}"]:
            return Freeze(
                replace(
                    state, phase="frozen", reason=f"rollback asked after SageMaker finished: {state.reason}"
                ),
                f"SageMaker had shifted all traffic to v{state.version} before the rollback: set git back with "
                "`modelcd rollback` and deploy, which rolls the previous version out again",
            )
        return _decide_rollback(observed, state)
    if superseded:
        # Git moved on, so whoever holds the lease rolls out what git no longer wants: this run takes
        # the rollback over (the record is compare-and-set); the other run is refused at its next look.
        return _begin_rollback(state, f"superseded: git now asks for {desired.describe()}")
    if state.phase == "paused":
        return Hold(f"rollout of {candidate.name} is paused at step {state.step_index}: {state.reason}")
    if state.phase == "experimenting":
        return Hold(f"experiment {desired.describe()} vs stable is running: {state.reason}", experiment=True)
    if state.lease_owner != desired.owner:
        return _take_lease(state)
    if state.lease_expires_at - now < policy.lease_seconds / 2:
        return RecordState(state, "renew lease")
    if policy.native is not None:
        return _decide_native(desired, observed, policy, policy.native, state, now)
    return _decide_progress(desired, observed, policy, state, analysis, now, timing)


def _decide_native(
    desired: Desired,
    observed: ObservedEndpoint,
    policy: RolloutPolicy,
    traffic: NativeTraffic,
    state: RolloutState,
    now: float,
) -> Action:
    """SageMaker shifts by itself: issue the update once (step 0), then read where it settled."""
    candidate = desired.candidate
    names = [v.name for v in observed.variants]
    stable_name = variant_name(state.stable_version) if state.stable_version is not None else ""
    stable = observed.variant(stable_name)
    how = f"{traffic.mode.lower()} {traffic.step_percent}% steps, {describe_duration(traffic.wait_seconds)} each"
    if names == [candidate.name]:
        done = replace(
            state, phase="succeeded", step_index=len(policy.steps), reason=f"SageMaker shifted ({how})"
        )
        return Complete(
            done, (candidate,), f"SageMaker shifted all traffic to {candidate.name} ({how}): complete"
        )
    if names == [stable_name] and stable is not None and state.step_index == 0:
        issued = replace(state, step_index=1, step_started_at=now, reason=f"SageMaker is shifting ({how})")
        return NativeShift(
            (candidate,),
            {candidate.name: 100.0},
            traffic,
            issued,
            f"SageMaker shifts {stable_name} -> {candidate.name} itself ({how}), rolled back by its alarms",
        )
    if names == [stable_name] and stable is not None:
        why = observed.failure_reason or "an alarm fired during a baking period"
        reason = f"SageMaker rolled the update back: {why}"
        return FinishRollback(
            replace(state, phase="rolled_back", reason=reason), (spec_of(stable),), f"rolled back: {reason}"
        )
    return Freeze(
        replace(state, phase="frozen", reason=f"endpoint serves {names} during a native shift"),
        f"{observed.name} serves {names}, a shape a SageMaker-native shift never leaves; a human must look",
    )


def _decide_idle(
    desired: Desired,
    observed: ObservedEndpoint,
    policy: RolloutPolicy,
    state: RolloutState | None,
    now: float,
) -> Action:
    candidate = desired.candidate
    names = [v.name for v in observed.variants]
    decided = (
        state is not None
        and state.phase == "succeeded"
        and state.version == candidate.model_version
        and state.challengers == desired.challenger_versions
    )
    if names == [candidate.name] and desired.challengers and not decided:
        first = desired.challengers[0].name
        return Refuse(
            f"{observed.name} serves {candidate.name} alone already, and an experiment compares new versions "
            f"with the one that serves: to test {first} against {candidate.name}, set version: "
            f"{first[1:]} (and challengers: for more)"
        )
    if names == [candidate.name]:
        if state is not None and state.phase == "succeeded" and state.version == candidate.model_version:
            return Done(f"{observed.name} already serves {candidate.name} alone{_won(state)}")
        base = state if state is not None and state.version == candidate.model_version else None
        record = base or _new_state(desired, policy, None, now, step=len(policy.steps))
        done = replace(
            record, phase="succeeded", step_index=len(policy.steps), reason="candidate serves alone"
        )
        return Complete(done, (candidate,), f"{candidate.name} serves 100% alone: rollout complete")
    if state is not None and state.version == candidate.model_version and state.phase == "rolled_back":
        return Refuse(
            f"{candidate.name} was rolled back on {observed.name}: {state.reason}. Put the previous version "
            f"back in git, or deploy a new version"
        )
    if len(observed.variants) != 1:
        return Refuse(
            f"{observed.name} serves variants {names} but no rollout is in progress "
            f"({'record: ' + state.phase if state else 'no rollout record'}); fix the endpoint by hand"
        )
    stable = observed.variants[0]
    if stable.model_version is None:
        return Refuse(f"{observed.name} serves variant {stable.name!r}, which modelcd did not create")
    if stable.model_version in desired.challenger_versions:
        return Refuse(
            f"{observed.name} serves {stable.name}, which git names as a challenger: stable is the "
            "experiment's control, so name only new versions in challengers"
        )
    start = _new_state(desired, policy, stable.model_version, now, step=0)
    return RecordState(start, f"start rollout {stable.name} -> {desired.describe()}")


def _won(state: RolloutState) -> str:
    """What an experiment this version won was against ("" when it ran none with challengers)."""
    lost = (*state.challengers, *([state.outvoted] if state.outvoted is not None else ()))
    return f" (it won the experiment over {', '.join(f'v{v}' for v in lost)})" if lost else ""


def _decide_rollback(observed: ObservedEndpoint, state: RolloutState) -> Action:
    if state.stable_version is None:
        return Freeze(replace(state, phase="frozen"), "cannot roll back a first deploy: no stable version")
    stable_name = variant_name(state.stable_version)
    stable = observed.variant(stable_name)
    if stable is None:
        return Freeze(
            replace(state, phase="frozen", reason=f"stable {stable_name} missing during rollback"),
            f"stable variant {stable_name} is not on {observed.name}; cannot roll back",
        )
    others = [v for v in observed.variants if v.name != stable_name]
    if not others and observed.shadow is not None:
        return RemoveCandidate(
            (spec_of(stable),), {stable_name: 100.0}, f"rollback: remove shadow {observed.shadow.name}"
        )
    if not others:
        done = replace(state, phase="rolled_back")
        return FinishRollback(
            done, (spec_of(stable),), f"rolled back: {stable_name} serves alone ({state.reason})"
        )
    full = {stable_name: 100.0, **{v.name: 0.0 for v in others}}
    if not _weights_match(observed, full):
        return RestoreStable(full, f"rollback: 100% to {stable_name}")
    return RemoveCandidate(
        (spec_of(stable),), {stable_name: 100.0}, f"rollback: {stable_name} verified at 100%, remove others"
    )


def _decide_progress(
    desired: Desired,
    observed: ObservedEndpoint,
    policy: RolloutPolicy,
    state: RolloutState,
    analysis: AnalysisResult | None,
    now: float,
    timing: Timing,
) -> Action:
    candidate = desired.candidate
    steps = policy.steps
    if state.steps_hash != policy.steps_hash():
        restarted = replace(
            state, steps_hash=policy.steps_hash(), step_index=0, step_started_at=now, inconclusive=0
        )
        return RecordState(restarted, "rollout steps changed in git: restart at step 1")
    cand = observed.variant(candidate.name)
    stable_name = variant_name(state.stable_version) if state.stable_version is not None else ""
    stable = observed.variant(stable_name)
    if cand is not None and len(observed.variants) == 1:
        done = replace(state, phase="succeeded", step_index=len(steps), reason="candidate serves alone")
        return Complete(done, (candidate,), f"{candidate.name} serves 100% alone: rollout complete")
    if stable is None:
        return Freeze(
            replace(state, phase="frozen", reason=f"stable {stable_name} missing"),
            f"stable variant {stable_name!r} is not on {observed.name} during the rollout",
        )
    in_shadow = state.step_index < len(steps) and isinstance(steps[state.step_index], Shadow)
    shadowing = observed.shadow is not None and observed.shadow.name == candidate.name
    missing = [c.name for c in desired.challengers if observed.variant(c.name) is None]
    if cand is not None and missing:
        return _begin_rollback(state, f"challenger {', '.join(missing)} disappeared from {observed.name}")
    if cand is None and not (in_shadow and shadowing):
        untouched = _weight(observed, stable_name) >= 100.0 - WEIGHT_TOLERANCE
        if untouched and not _traffic_shifted(steps, state.step_index):
            if in_shadow:
                return StartShadow(
                    (spec_of(stable),),
                    {stable_name: 100.0},
                    candidate,
                    state,
                    f"shadow {candidate.name} beside {stable_name}: a copy of every request",
                )
            return AddCandidate(
                (spec_of(stable), *desired.arms),
                {stable_name: 100.0, **{arm.name: 0.0 for arm in desired.arms}},
                f"add {desired.describe()} beside {stable_name} at weight 0",
            )
        return _begin_rollback(state, f"candidate {candidate.name} disappeared from {observed.name}")
    if state.step_index >= len(steps):
        return Finalize((candidate,), {candidate.name: 100.0}, f"all steps passed: {candidate.name} alone")
    step = steps[state.step_index]
    label = f"step {state.step_index + 1}/{len(steps)}"
    if isinstance(step, SetWeight):
        arms = desired.arms
        wanted = {
            **{arm.name: float(step.weight) for arm in arms},
            stable_name: float(100 - len(arms) * step.weight),
        }
        who = " and ".join(arm.name for arm in arms) + (" each" if len(arms) > 1 else "")
        if _weights_match(observed, wanted):
            reason = f"{label}: {who} at {step.weight}% (read back)"
            return RecordState(_advance(state, now, reason), reason)
        return ShiftTraffic(state.step_index, wanted, f"{label}: set {who} to {step.weight}%")
    if isinstance(step, Bake | Shadow):
        return _decide_bake(state, step, policy, analysis, now, timing, label)
    if isinstance(step, Experiment):
        until = describe_time(now + step.seconds, now)
        reason = f"{label}: the split is held until the business metric decides, at most until {until}"
        held = replace(state, phase="experimenting", step_started_at=now, reason=reason)
        return RecordState(held, f"{label}: experiment {desired.describe()} vs {stable_name} starts")
    assert isinstance(step, Analysis)
    return _decide_analysis(state, step.policy, analysis, now, timing, label)


def _traffic_shifted(steps: Sequence[Step], index: int) -> bool:
    """Whether a step before `index` gave the candidate client traffic."""
    return any(isinstance(s, SetWeight) and s.weight > 0 for s in steps[:index])


def _decide_bake(
    state: RolloutState,
    step: Bake | Shadow,
    policy: RolloutPolicy,
    analysis: AnalysisResult | None,
    now: float,
    timing: Timing,
    label: str,
) -> Action:
    kind = "shadow" if isinstance(step, Shadow) else "bake"
    if analysis is not None and analysis.step_index == state.step_index and analysis.phase == "Failed":
        return _begin_rollback(
            replace(state, evidence=evidence_line(analysis)),
            f"{label} ({kind}, background analysis): {analysis.message}",
        )
    remaining = state.step_started_at + step.seconds - now
    if remaining <= 0:
        reason = f"{label}: {'shadowed' if kind == 'shadow' else 'baked'} {step.seconds:g}s"
        return RecordState(_advance(state, now, reason), reason)
    since_window = now - state.window_start
    if analysis is None and since_window >= timing.look_seconds:
        return RunAnalysis(
            state.step_index, policy.analysis, state.window_start, now, True, f"{label}: background analysis"
        )
    until_next = timing.look_seconds - since_window % timing.look_seconds
    doing = "shadowing" if kind == "shadow" else "baking"
    return Wait(min(remaining, until_next), f"{label}: {doing}, {remaining:.0f}s left")


def _decide_analysis(
    state: RolloutState,
    step_policy: AnalysisPolicy,
    analysis: AnalysisResult | None,
    now: float,
    timing: Timing,
    label: str,
) -> Action:
    if (
        analysis is None
        or analysis.step_index != state.step_index
        or analysis.window_start != state.window_start
    ):
        return RunAnalysis(
            state.step_index, step_policy, state.window_start, now, False, f"{label}: analysis"
        )
    state = replace(state, evidence=evidence_line(analysis))
    if analysis.phase == "Successful":
        reason = f"{label}: analysis Successful"
        return RecordState(_advance(state, now, reason), reason)
    if analysis.phase == "Failed":
        return _begin_rollback(state, f"{label}: analysis Failed: {analysis.message}")
    if analysis.phase == "Error":
        return _decide_unreadable(state, step_policy, analysis, timing, label)
    waited = now - state.step_started_at
    if waited < step_policy.max_extension:
        reason = (
            f"{label}: analysis Inconclusive, step extended ({describe_duration(waited)} of "
            f"{describe_duration(step_policy.max_extension)}): {analysis.message}"
        )
        wait = min(timing.look_seconds, step_policy.max_extension - waited)
        return RecordState(replace(state, inconclusive=0, reason=reason), reason, wait)
    reason = (
        f"{label}: analysis still Inconclusive after extending the step by "
        f"{describe_duration(step_policy.max_extension)}: {analysis.message}"
    )
    if step_policy.on_inconclusive == "pause":
        return RecordState(replace(state, phase="paused", reason=reason), f"pause: {reason}")
    return _begin_rollback(state, f"{reason} (on_inconclusive: rollback)")


def _decide_unreadable(
    state: RolloutState, step_policy: AnalysisPolicy, analysis: AnalysisResult, timing: Timing, label: str
) -> Action:
    """Metrics unreadable: retried `max_inconclusive` times in a row, then rolled back (a rollout that
    cannot be watched is not left running, whatever `on_inconclusive` says)."""
    count = state.inconclusive + 1
    limit = step_policy.max_inconclusive
    if count <= limit:
        reason = f"{label}: metrics unreadable, retry {count} of {limit}: {analysis.message}"
        return RecordState(replace(state, inconclusive=count, reason=reason), reason, timing.look_seconds)
    reason = (
        f"{label}: metrics unreadable {count} times in a row (max_inconclusive {limit}): {analysis.message}"
    )
    return _begin_rollback(replace(state, inconclusive=count), reason)


__all__ = [
    "TERMINAL_ACTIONS",
    "Action",
    "AddCandidate",
    "Complete",
    "CreateEndpoint",
    "Desired",
    "Done",
    "Finalize",
    "FinishRollback",
    "Freeze",
    "Hold",
    "NativeShift",
    "RecordState",
    "Refuse",
    "RemoveCandidate",
    "RestoreStable",
    "RunAnalysis",
    "ShiftTraffic",
    "StartShadow",
    "Timing",
    "Wait",
    "as_decided",
    "decide",
]

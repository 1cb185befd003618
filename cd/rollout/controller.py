"""The reconcile loop: observe -> decide -> act -> record, until a terminal action.

Clock and sleep are injected (`Clock`), so tests drive hours of baking in milliseconds. Every decision is
recorded with its numbers in a `RolloutReport` (JSON for machines, a markdown table for the job
summary). Progress that must survive the process is written on the target (`Target.write_record`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, assert_never

from cd.config.model import RolloutPolicy
from cd.errors import RolloutError, TargetError
from cd.rollout.analysis import AnalysisResult, CapturedSample, analyse, measurement_error
from cd.rollout.decide import (
    Action,
    AddCandidate,
    Complete,
    CreateEndpoint,
    Desired,
    Done,
    Finalize,
    FinishRollback,
    Freeze,
    Hold,
    NativeShift,
    RecordState,
    Refuse,
    RemoveCandidate,
    RestoreStable,
    RunAnalysis,
    ShiftTraffic,
    StartShadow,
    Timing,
    Wait,
    as_decided,
    decide,
)
from cd.rollout.owner import holder_is_gone
from cd.rollout.record import ACTIVE_PHASES, LEASE_OWNER, RolloutState, decode, for_write
from cd.rollout.target import (
    ObservedEndpoint,
    RecordConflictError,
    Target,
    TargetBusyError,
    TargetCapacityError,
    TargetOutcomeUnknownError,
    TargetTransientError,
    variant_name,
)

Outcome = Literal["succeeded", "noop", "experimenting", "rolled_back", "paused", "refused", "frozen"]
SUCCESS_OUTCOMES: frozenset[str] = frozenset({"succeeded", "noop", "experimenting"})


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


AliasSetter = Callable[[int], None]  # called with the version after success (mirrors git in MLflow)
CaptureReader = Callable[[str, Sequence[str], float, float], tuple[CapturedSample, CapturedSample]]
# (endpoint, (candidate, stable) variants, window start, end) -> their captured traffic


@dataclass(frozen=True)
class Settings:
    timing: Timing = field(default_factory=Timing)
    change_timeout_seconds: float = 3600.0  # an Updating endpoint that never settles is an error
    max_transient_errors: int = 8  # consecutive throttles/unavailability tolerated (backoff between)
    max_iterations: int = 20_000


@dataclass(frozen=True)
class Decision:
    at: float
    action: str
    message: str
    step: int | None = None
    weights: dict[str, float] | None = None
    analysis: dict[str, Any] | None = None


@dataclass
class RolloutReport:
    endpoint: str
    model: str
    version: int
    outcome: Outcome | None = None
    message: str = ""
    decisions: list[Decision] = field(default_factory=list)
    stable_version: int | None = None  # after a rollback: the version left serving 100%

    @property
    def ok(self) -> bool:
        return self.outcome in SUCCESS_OUTCOMES

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    def to_markdown(self) -> str:
        lines = [
            f"### Rollout of `{self.model}` v{self.version} on `{self.endpoint}`: **{self.outcome}**",
            "",
            self.message,
            "",
            "| time (UTC) | action | step | weights | analysis | detail |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for d in self.decisions:
            when = datetime.fromtimestamp(d.at, UTC).strftime("%H:%M:%S")
            weights = ", ".join(f"{k} {v:g}%" for k, v in (d.weights or {}).items())
            phase = d.analysis["phase"] if d.analysis else ""
            step = "" if d.step is None else str(d.step + 1)
            detail = d.message.replace("|", "\\|")
            lines.append(f"| {when} | {d.action} | {step} | {weights} | {phase} | {detail} |")
        return "\n".join(lines + self.timeline()) + "\n"

    def timeline(self) -> list[str]:
        """A Mermaid chart of the candidate's share of traffic at each decision that set weights, with the
        seconds since the rollout began (the canary timeline); empty when no weight was ever set."""
        name = f"v{self.version}"
        points = [(d.at, (d.weights or {}).get(name)) for d in self.decisions if d.weights]
        points = [(at, w) for at, w in points if w is not None]
        if not points:
            return []
        start = self.decisions[0].at
        labels = ", ".join(f'"{at - start:.0f}s"' for at, _ in points)
        values = ", ".join(f"{w:g}" for _, w in points)
        return [
            "",
            "```mermaid",
            "xychart-beta",
            f'    title "{name}: share of traffic over the rollout"',
            f"    x-axis [{labels}]",
            '    y-axis "percent" 0 --> 100',
            f"    line [{values}]",
            "```",
        ]


class _NotApplied(Exception):
    """The target settled on something other than what was asked (e.g. SageMaker rolled back)."""


def _analysis_dict(result: AnalysisResult) -> dict[str, Any]:
    """Every number of an analysis, the per-request samples summarised (they can be millions)."""
    data = asdict(result)
    data["candidate"] = result.candidate.summary() if result.candidate is not None else None
    data["stable"] = result.stable.summary() if result.stable is not None else None
    return data


def _with_gone_holder(desired: Desired, observed: ObservedEndpoint | None) -> Desired:
    """`desired`, told whether the record's lease holder is known to have ended (`cd.rollout.owner`)."""
    holder = observed.record.get(LEASE_OWNER, "") if observed is not None else ""
    if holder and holder != desired.owner and holder_is_gone(holder, desired.owner):
        return replace(desired, gone_owners=desired.gone_owners | {holder})
    return desired


class Controller:
    """Drives one endpoint to the desired version through the policy's steps."""

    def __init__(
        self,
        target: Target,
        policy: RolloutPolicy,
        *,
        clock: Clock | None = None,
        settings: Settings = Settings(),
        alias_setter: AliasSetter | None = None,
        capture: CaptureReader | None = None,
    ) -> None:
        self.target = target
        self.policy = policy
        self.clock = clock or SystemClock()
        self.settings = settings
        self.alias_setter = alias_setter
        self.capture = capture  # the endpoint's data capture, for the drift checks (None: not read)

    # ------------------------------------------------------------------------------ the loop

    def run(self, desired: Desired) -> RolloutReport:
        report = RolloutReport(desired.endpoint, desired.model, desired.candidate.model_version)
        analysis: AnalysisResult | None = None
        transient = conflicts = 0
        for _ in range(self.settings.max_iterations):
            try:
                observed = self.target.observe(desired.endpoint)
                wanted = as_decided(desired, observed)
                action = decide(
                    _with_gone_holder(wanted, observed),
                    observed,
                    self.policy,
                    analysis,
                    self.clock.now(),
                    self.settings.timing,
                )
                analysis = None
                if isinstance(action, RunAnalysis):
                    analysis = self._run_analysis(wanted, action, report)
                    continue
                self._note(report, action)
                outcome = self._act(wanted, observed, action, report)
                transient = conflicts = 0
            except RecordConflictError as exc:
                conflicts += 1
                if conflicts > self.settings.max_transient_errors:
                    raise RolloutError(
                        f"{desired.endpoint}: the rollout record kept changing under this run "
                        f"({conflicts} conflicts in a row): {exc}"
                    ) from exc
                self._note_text(
                    report, "Reconcile", f"record changed by another writer, observing again: {exc}"
                )
                continue
            except TargetBusyError as exc:
                self._note_text(report, "Wait", f"endpoint busy: {exc}")
                self.clock.sleep(self.settings.timing.poll_seconds)
                continue
            except TargetOutcomeUnknownError as exc:
                self._note_text(report, "Reconcile", f"outcome unknown, observing again: {exc}")
                continue
            except TargetTransientError as exc:
                transient += 1
                if transient > self.settings.max_transient_errors:
                    raise RolloutError(
                        f"{desired.endpoint}: giving up after {transient} consecutive transient errors: {exc}"
                    ) from exc
                delay = min(self.settings.timing.poll_seconds, 2.0**transient)
                self._note_text(
                    report, "Backoff", f"transient error #{transient}, retry in {delay:g}s: {exc}"
                )
                self.clock.sleep(delay)
                continue
            if outcome is not None:
                report.outcome, report.message = outcome, action.message
                return report
        raise RolloutError(
            f"{desired.endpoint}: no terminal state after {self.settings.max_iterations} iterations"
        )

    # ------------------------------------------------------------------------------ acting

    def _act(
        self, desired: Desired, observed: ObservedEndpoint | None, action: Action, report: RolloutReport
    ) -> Outcome | None:
        endpoint = desired.endpoint
        state = decode(observed.record) if observed is not None else None
        seen = dict(observed.record) if observed is not None else {}
        match action:
            case Wait():
                self.clock.sleep(action.seconds)
            case RecordState():
                self._write(desired, action.record, seen)
                if action.wait_seconds > 0:
                    self.clock.sleep(action.wait_seconds)
            case CreateEndpoint():
                try:
                    config = self.target.apply_variants(endpoint, action.variants, action.weights)
                except TargetCapacityError as exc:
                    raise RolloutError(f"{endpoint}: first deploy refused for capacity: {exc}") from exc
                self._await_change(endpoint, config=config)
                self._write(desired, action.record, seen)
            case AddCandidate() | StartShadow() | ShiftTraffic():
                return self._shift(desired, state, seen, action, report)
            case NativeShift():  # SageMaker shifts from here on; the next looks read where it settled
                self.target.apply_variants(endpoint, action.variants, action.weights, traffic=action.traffic)
                self._write(desired, action.record, seen)
            case Finalize() | RemoveCandidate():
                config = self.target.apply_variants(endpoint, action.variants, action.weights)
                self._await_or_fail(endpoint, config=config, what=type(action).__name__)
            case RestoreStable():
                self.target.set_weights(endpoint, action.weights)
                try:
                    self._await_change(endpoint, weights=action.weights)
                except _NotApplied as exc:  # e.g. a run that lost the rollout shifted in flight: again
                    raise TargetTransientError(f"RestoreStable: {exc}; restoring again") from exc
            case Complete():
                self._write(desired, action.record, seen)
                self._finish(desired, action.keep, report, set_alias=True)
                return "succeeded"
            case Done():
                self._finish(desired, (desired.candidate,), report, set_alias=True)  # converge leftovers
                return "noop"
            case FinishRollback():
                report.stable_version = action.keep[0].model_version if action.keep else None
                self._write(desired, action.record, seen)
                self._finish(desired, action.keep, report, set_alias=False)
                if action.record.version != desired.candidate.model_version:
                    return None  # a superseded rollout is gone: go on to what git asks for now
                return "rolled_back"
            case Freeze():
                if action.record is not None:
                    try:
                        self._write(desired, action.record, seen)
                    except TargetError as exc:
                        self._note_text(report, "Record", f"could not record the freeze: {exc}")
                return "frozen"
            case Refuse():
                return "refused"
            case Hold(experiment=True):
                return "experimenting"
            case Hold():
                return "paused"
            case RunAnalysis():  # `run` reads the metrics and decides again; it never reaches here
                raise AssertionError("RunAnalysis is handled by Controller.run")
            case _:
                assert_never(action)
        return None

    def _shift(
        self,
        desired: Desired,
        state: RolloutState | None,
        seen: dict[str, str],
        action: AddCandidate | StartShadow | ShiftTraffic,
        report: RolloutReport,
    ) -> Outcome | None:
        """Add the candidate or shift a step's traffic; if the target refuses, roll back (nothing shifted)."""
        endpoint = desired.endpoint
        try:
            if isinstance(action, AddCandidate):
                config = self.target.apply_variants(endpoint, action.variants, action.weights)
                self._await_change(endpoint, config=config)
            elif isinstance(action, StartShadow):
                config = self.target.apply_variants(
                    endpoint, action.variants, action.weights, shadow=action.shadow
                )
                self._await_change(endpoint, config=config)
                self._write(desired, replace(action.record, step_started_at=self.clock.now()), seen)
            else:
                self.target.set_weights(endpoint, action.weights)
                self._await_change(endpoint, weights=action.weights)
        except (TargetCapacityError, _NotApplied) as exc:
            if state is None:
                raise RolloutError(f"{endpoint}: {exc}") from exc
            self._abandon(desired, state, seen, f"{type(action).__name__} not applied: {exc}", report)
        except (TargetTransientError, TargetBusyError, TargetOutcomeUnknownError, RecordConflictError):
            raise  # the loop observes again
        except TargetError as exc:
            if state is None or isinstance(action, ShiftTraffic):
                raise
            # The candidate cannot be served at all (an image the target refuses, a model it cannot create):
            # nothing was shifted, so the rollout ends here rather than under a lease for nobody.
            self._abandon(desired, state, seen, f"the candidate could not be added: {exc}", report)
        return None

    def _abandon(
        self, desired: Desired, state: RolloutState, seen: dict[str, str], reason: str, report: RolloutReport
    ) -> None:
        self._note_text(report, "RecordState", f"roll back: {reason}")
        self._write(desired, replace(state, phase="rolling_back", reason=reason), seen)

    def _await_or_fail(
        self, endpoint: str, *, what: str, config: str | None = None, weights: Any = None
    ) -> None:
        try:
            self._await_change(endpoint, config=config, weights=weights)
        except _NotApplied as exc:
            raise RolloutError(
                f"{endpoint}: {what} was not applied: {exc}; run deploy again to retry"
            ) from exc

    def _await_change(
        self, endpoint: str, *, config: str | None = None, weights: Any = None
    ) -> ObservedEndpoint | None:
        """Observe until the endpoint settles; check it settled on what was asked (read back)."""
        deadline = self.clock.now() + self.settings.change_timeout_seconds
        while True:
            try:
                observed = self.target.observe(endpoint)
            except TargetTransientError:
                observed = None
            if observed is not None and not observed.transitional:
                break
            if self.clock.now() >= deadline:
                raise RolloutError(
                    f"{endpoint}: still {observed.status if observed else 'not visible'} after "
                    f"{self.settings.change_timeout_seconds:g}s"
                )
            self.clock.sleep(self.settings.timing.poll_seconds)
        if observed.broken:
            return observed  # the next decision freezes
        if config is not None and observed.config_name != config:
            raise _NotApplied(
                f"endpoint settled {observed.status} on config {observed.config_name!r}, not the requested "
                f"{config!r} (the target rolled the update back: {observed.failure_reason or 'no reason given'})"
            )
        if weights is not None:
            actual = observed.weights
            if any(abs(actual.get(n, 0.0) - w) > 0.01 for n, w in weights.items()):
                raise _NotApplied(f"weights read back as {actual}, asked for {dict(weights)}")
        return observed

    def _write(self, desired: Desired, state: RolloutState, seen: dict[str, str]) -> None:
        """Record `state` over the record observed (`seen`), compare-and-set: if anyone wrote in
        between (an abort, another run), nothing is written and the loop observes again."""
        now = self.clock.now()
        if state.phase in ACTIVE_PHASES and state.phase not in ("paused", "experimenting"):
            state = state.with_lease(desired.owner, now, self.policy.lease_seconds)
        else:
            state = state.released()
        tags, expect = for_write(state, seen)
        self.target.write_record(desired.endpoint, tags, expect_revision=expect)

    def _finish(self, desired: Desired, keep: Any, report: RolloutReport, *, set_alias: bool) -> None:
        """Best-effort cleanup (transient errors retried, bounded; a failure leaves things in place)."""
        for attempt in range(1, self.settings.max_transient_errors + 1):
            try:
                deleted = self.target.cleanup(desired.endpoint, keep)
            except TargetTransientError as exc:
                if attempt == self.settings.max_transient_errors:
                    self._note_text(report, "Cleanup", f"cleanup failed (left in place): {exc}")
                    break
                self.clock.sleep(min(self.settings.timing.poll_seconds, 2.0**attempt))
                continue
            except TargetError as exc:
                self._note_text(report, "Cleanup", f"cleanup failed (left in place): {exc}")
                break
            if deleted:
                self._note_text(report, "Cleanup", f"deleted {', '.join(deleted)}")
            break
        if set_alias:
            self._set_alias(desired, report)

    def _set_alias(self, desired: Desired, report: RolloutReport) -> None:
        if self.alias_setter is None:
            return
        self.alias_setter(desired.candidate.model_version)
        self._note_text(report, "Alias", f"registry alias now points at v{desired.candidate.model_version}")

    # ------------------------------------------------------------------------------ analysis

    def _run_analysis(self, desired: Desired, action: RunAnalysis, report: RolloutReport) -> AnalysisResult:
        observed = self.target.observe(desired.endpoint)
        state = decode(observed.record) if observed is not None else None
        start = datetime.fromtimestamp(action.window_start, UTC)
        end = datetime.fromtimestamp(max(action.window_end, action.window_start + 1), UTC)
        stat = action.policy.latency_statistic
        try:
            candidate = self.target.read_metrics(desired.endpoint, desired.candidate.name, start, end, stat)
            stable = None
            if state is not None and state.stable_version is not None:
                stable = self.target.read_metrics(
                    desired.endpoint, variant_name(state.stable_version), start, end, stat
                )
            firing = self.target.alarms_in_alarm(action.policy.alarms) if action.policy.alarms else ()
            captured = self._captured(desired, action, stable is not None, state)
        except TargetError as exc:
            result = measurement_error(
                f"metrics unreadable: {exc}",
                step_index=action.step_index,
                window_start=action.window_start,
                window_end=action.window_end,
            )
        else:
            result = analyse(
                candidate,
                stable,
                firing,
                action.policy,
                step_index=action.step_index,
                window_start=action.window_start,
                window_end=action.window_end,
                captured=captured,
            )
        if not action.background or result.phase == "Failed":
            report.decisions.append(
                Decision(
                    self.clock.now(),
                    "Analysis",
                    f"{action.message}: {result.phase}: {result.message}",
                    action.step_index,
                    None,
                    _analysis_dict(result),
                )
            )
        return result

    def _captured(
        self, desired: Desired, action: RunAnalysis, has_stable: bool, state: RolloutState | None
    ) -> tuple[CapturedSample, CapturedSample] | None:
        """Both variants' captured traffic over the window, when a drift or live-quality check asks for it."""
        if (
            not action.policy.reads_capture
            or self.capture is None
            or not has_stable
            or state is None
            or state.stable_version is None
        ):
            return None
        variants = (desired.candidate.name, variant_name(state.stable_version))
        cand, stable = self.capture(desired.endpoint, variants, action.window_start, action.window_end)
        return cand, stable

    # ------------------------------------------------------------------------------ notes

    def _note(self, report: RolloutReport, action: Action) -> None:
        weights = getattr(action, "weights", None)
        step = getattr(action, "step_index", None)
        record = getattr(action, "record", None)
        if step is None and isinstance(record, RolloutState):
            step = record.step_index
        if isinstance(action, Wait) and report.decisions and report.decisions[-1].action == "Wait":
            return  # one line per waiting period, not per poll
        report.decisions.append(
            Decision(
                self.clock.now(),
                type(action).__name__,
                action.message,
                step,
                dict(weights) if weights is not None else None,
            )
        )

    def _note_text(self, report: RolloutReport, action: str, message: str) -> None:
        report.decisions.append(Decision(self.clock.now(), action, message))

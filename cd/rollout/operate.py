"""Operator actions on a rollout (status, abort, pause, resume): read or edit the record on the target.

Every edit is compare-and-set on the record's revision, so it is never lost under a running deploy:
that run's next write conflicts, it observes again and sees the edit.
- `abort` marks the rollout rolling back and then drives the rollback itself, now: it does not wait for
  a deploy run that may be dead. A live run that held the lease is refused at its next look.
- `pause` makes the owning run stop after its current action; `resume` lets the next `modelcd deploy`
  (or the scheduled `modelcd reconcile`) continue.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal, assert_never

from cd.config.model import RolloutPolicy
from cd.errors import RolloutError, UsageError
from cd.rollout.controller import Clock, Controller, RolloutReport, Settings
from cd.rollout.decide import Desired
from cd.rollout.deploy import settings_for
from cd.rollout.record import RolloutState, decode, for_write
from cd.rollout.target import ObservedEndpoint, Target, VariantSpec

if TYPE_CHECKING:
    from cd.workspace import Workspace


@dataclass(frozen=True)
class EndpointStatus:
    endpoint: str
    exists: bool
    status: str = ""
    config_name: str = ""
    weights: dict[str, float] | None = None
    state: RolloutState | None = None
    failure_reason: str = ""

    def to_dict(self) -> dict[str, object]:
        from dataclasses import asdict

        return asdict(self)


def endpoint_status(target: Target, endpoint: str) -> EndpointStatus:
    observed = target.observe(endpoint)
    if observed is None:
        return EndpointStatus(endpoint, False)
    return EndpointStatus(
        endpoint,
        True,
        observed.status,
        observed.config_name,
        {v.name: v.current_weight for v in observed.variants},
        decode(observed.record),
        observed.failure_reason,
    )


def _current(target: Target, endpoint: str) -> tuple[ObservedEndpoint, RolloutState]:
    observed = target.observe(endpoint)
    if observed is None:
        raise RolloutError(f"endpoint {endpoint} does not exist")
    state = decode(observed.record)
    if state is None:
        raise RolloutError(f"endpoint {endpoint} carries no modelcd rollout record")
    return observed, state


def _store(target: Target, endpoint: str, observed: ObservedEndpoint, state: RolloutState) -> RolloutState:
    tags, expect = for_write(state, observed.record)
    target.write_record(endpoint, tags, expect_revision=expect)
    return replace(state, revision=int(expect) + 1)


def abort(target: Target, endpoint: str, *, by: str, reason: str = "") -> RolloutState:
    """Mark the rollout rolling back (the record only; `drive_rollback` then restores stable)."""
    observed, state = _current(target, endpoint)
    if state.phase not in ("progressing", "paused", "experimenting", "frozen"):
        raise RolloutError(
            f"nothing to abort on {endpoint}: the rollout of v{state.version} is {state.phase}"
        )
    new = replace(
        state,
        phase="rolling_back",
        reason=f"aborted by {by}" + (f": {reason}" if reason else ""),
        lease_owner="",
        lease_expires_at=0.0,
    )
    return _store(target, endpoint, observed, new)


def drive_rollback(
    target: Target,
    endpoint: str,
    policy: RolloutPolicy,
    *,
    owner: str,
    clock: Clock | None = None,
    settings: Settings | None = None,
) -> RolloutReport:
    """Run the controller on a rollout that is rolling back, until stable serves alone."""
    _, state = _current(target, endpoint)
    candidate = VariantSpec(state.version, state.image)
    controller = Controller(target, policy, clock=clock, settings=settings or settings_for(target))
    return controller.run(Desired(endpoint, state.model, candidate, git_sha=state.git_sha, owner=owner))


def pause(target: Target, endpoint: str, *, by: str) -> RolloutState:
    observed, state = _current(target, endpoint)
    if state.phase != "progressing":
        raise RolloutError(f"cannot pause {endpoint}: the rollout of v{state.version} is {state.phase}")
    new = replace(state, phase="paused", reason=f"paused by {by}", lease_owner="", lease_expires_at=0.0)
    return _store(target, endpoint, observed, new)


def resume(target: Target, endpoint: str, *, by: str, now: float | None = None) -> RolloutState:
    """Let the next deploy continue a paused rollout (its inconclusive count starts again)."""
    observed, state = _current(target, endpoint)
    if state.phase != "paused":
        raise RolloutError(
            f"cannot resume {endpoint}: the rollout of v{state.version} is {state.phase}, not paused"
        )
    t = time.time() if now is None else now
    new = replace(state, phase="progressing", inconclusive=0, reason=f"resumed by {by}", step_started_at=t)
    return _store(target, endpoint, observed, new)


@dataclass(frozen=True)
class ModelStatus:
    """One model of an environment: what git wants and what its endpoint reports."""

    model: str
    wanted_version: int
    endpoint: EndpointStatus


OperatorVerb = Literal["abort", "pause", "resume"]


@dataclass(frozen=True)
class OperatorResult:
    endpoint: str
    state: RolloutState  # the record as the verb left it
    rollback: RolloutReport | None = None  # abort: the rollback it drove


def environment_status(ws: Workspace, env_name: str) -> list[ModelStatus]:
    """`modelcd status`: every model endpoint of the environment, in model order."""
    env = ws.environment(env_name)
    target = ws.target(env)
    return [
        ModelStatus(name, env.models[name].version, endpoint_status(target, env.endpoint_name(name)))
        for name in sorted(env.models)
    ]


def operate(
    ws: Workspace, verb: OperatorVerb, env_name: str, model: str, by: str, owner: str
) -> OperatorResult:
    """`modelcd abort|pause|resume`: edit the rollout record of `model`'s endpoint in the environment
    (abort then drives the rollback as `owner`)."""
    env = ws.environment(env_name)
    if model not in env.models:
        raise UsageError(f"{env.path or env.name}: model {model!r} is not in environment {env.name}")
    endpoint = env.endpoint_name(model)
    target = ws.target(env)
    match verb:
        case "abort":
            state = abort(target, endpoint, by=by)
            return OperatorResult(endpoint, state, drive_rollback(target, endpoint, env.rollout, owner=owner))
        case "pause":
            return OperatorResult(endpoint, pause(target, endpoint, by=by))
        case "resume":
            return OperatorResult(endpoint, resume(target, endpoint, by=by))
        case _:
            assert_never(verb)

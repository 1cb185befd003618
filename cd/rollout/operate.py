"""Operator actions on a rollout (status, abort, pause, resume): read or edit the record on the target.

They never move traffic themselves: the deploy run that owns the rollout (or the next one) observes the
changed record and acts (`abort` makes it roll back; `pause` makes it stop after the current action;
`resume` lets the next `modelcd deploy` continue).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal, assert_never

from cd.errors import RolloutError, UsageError
from cd.rollout.record import RolloutState, decode, encode
from cd.rollout.target import ObservedEndpoint, Target

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


def abort(target: Target, endpoint: str, *, by: str) -> RolloutState:
    """Make the rollout roll back: the owning deploy run (or the next one) restores stable."""
    _, state = _current(target, endpoint)
    if state.phase not in ("progressing", "paused", "frozen"):
        raise RolloutError(
            f"nothing to abort on {endpoint}: the rollout of v{state.version} is {state.phase}"
        )
    new = replace(
        state, phase="rolling_back", reason=f"aborted by {by}", lease_owner="", lease_expires_at=0.0
    )
    target.write_record(endpoint, encode(new))
    return new


def pause(target: Target, endpoint: str, *, by: str) -> RolloutState:
    _, state = _current(target, endpoint)
    if state.phase != "progressing":
        raise RolloutError(f"cannot pause {endpoint}: the rollout of v{state.version} is {state.phase}")
    new = replace(state, phase="paused", reason=f"paused by {by}", lease_owner="", lease_expires_at=0.0)
    target.write_record(endpoint, encode(new))
    return new


def resume(target: Target, endpoint: str, *, by: str, now: float | None = None) -> RolloutState:
    """Let the next deploy continue a paused rollout (its inconclusive count starts again)."""
    _, state = _current(target, endpoint)
    if state.phase != "paused":
        raise RolloutError(
            f"cannot resume {endpoint}: the rollout of v{state.version} is {state.phase}, not paused"
        )
    t = time.time() if now is None else now
    new = replace(state, phase="progressing", inconclusive=0, reason=f"resumed by {by}", step_started_at=t)
    target.write_record(endpoint, encode(new))
    return new


@dataclass(frozen=True)
class ModelStatus:
    """One model of an environment: what git wants and what its endpoint reports."""

    model: str
    wanted_version: int
    endpoint: EndpointStatus


OperatorVerb = Literal["abort", "pause", "resume"]


def environment_status(ws: Workspace, env_name: str) -> list[ModelStatus]:
    """`modelcd status`: every model endpoint of the environment, in model order."""
    env = ws.environment(env_name)
    target = ws.target(env)
    return [
        ModelStatus(name, env.models[name].version, endpoint_status(target, env.endpoint_name(name)))
        for name in sorted(env.models)
    ]


def operate(
    ws: Workspace, verb: OperatorVerb, env_name: str, model: str, by: str
) -> tuple[str, RolloutState]:
    """`modelcd abort|pause|resume`: edit the rollout record of `model`'s endpoint in the environment."""
    env = ws.environment(env_name)
    if model not in env.models:
        raise UsageError(f"{env.path or env.name}: model {model!r} is not in environment {env.name}")
    endpoint = env.endpoint_name(model)
    target = ws.target(env)
    match verb:
        case "abort":
            return endpoint, abort(target, endpoint, by=by)
        case "pause":
            return endpoint, pause(target, endpoint, by=by)
        case "resume":
            return endpoint, resume(target, endpoint, by=by)
        case _:
            assert_never(verb)

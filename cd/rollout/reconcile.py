"""`modelcd reconcile`: take over every rollout that nobody watches any more.

A deploy job can die at any line (a cancelled run, a runner lost, a timeout). Its rollout stays where it
was, at some canary weight, until someone acts. The scheduled reconcile workflow runs this every few
minutes. For each endpoint of the environment it looks at the rollout record (`unattended`, pure):
- no rollout, or one that ended: nothing to do;
- paused: a person paused it, and `modelcd resume` lets it go on;
- leased by a run that still holds it: that run watches it;
- otherwise (no lease, an expired one, or one held by a run known to have ended): this run takes it over.
  A rollout of the version git wants is resumed, with the image its record names (the deploy verified
  that image against git's build record when it started); one git no longer wants is rolled back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from cd.humantime import describe_time
from cd.rollout.controller import Clock, RolloutReport, Settings
from cd.rollout.owner import holder_is_gone
from cd.rollout.record import RolloutState, decode
from cd.rollout.target import ObservedEndpoint, Target

if TYPE_CHECKING:
    from cd.workspace import Workspace

Verdict = Literal["idle", "paused", "watched", "resume", "roll_back", "stalled"]


@dataclass(frozen=True)
class Look:
    """What reconcile found on one endpoint, and what it did."""

    model: str
    endpoint: str
    verdict: Verdict
    message: str
    report: RolloutReport | None = None

    @property
    def ok(self) -> bool:
        if self.verdict == "stalled":
            return False  # nothing is at risk, but the rollout needs a deploy to go on
        if self.report is None:
            return True
        return self.report.ok or (self.verdict == "roll_back" and self.report.outcome == "rolled_back")


def unattended(
    state: RolloutState | None,
    wanted: int,
    me: str,
    now: float,
    gone: bool,
    challengers: tuple[int, ...] = (),
) -> tuple[Verdict, str]:
    """What to do with a rollout record (pure): see the module docstring. `gone`: its lease holder is
    known to have ended. `challengers`: the versions git runs in an experiment beside `wanted`; a
    challenger that won it (the record names `wanted` as `outvoted`) is what git's experiment asks for."""
    if state is None or not state.active:
        return "idle", "no rollout in progress" if state is None else f"v{state.version} {state.phase}"
    if state.phase == "paused":
        return "paused", f"v{state.version} paused ({state.reason}); `modelcd resume` lets it go on"
    if state.phase == "experimenting":
        return "paused", f"v{state.version} in an experiment ({state.reason}); `modelcd experiment` decides"
    if state.leased_by_other(me, now) and not gone:
        return "watched", f"v{state.version} {state.phase}, watched by {state.lease_owner!r} until " + (
            describe_time(state.lease_expires_at, now)
        )
    holder = (
        f"its lease holder {state.lease_owner!r} is gone" if state.lease_owner else "nobody holds its lease"
    )
    if state.phase == "rolling_back":
        return "roll_back", f"v{state.version} rolling back and {holder}: finishing the rollback"
    won = state.outvoted == wanted and state.version in challengers
    if not won and (state.version, state.challengers) != (wanted, challengers):
        asks = f"v{wanted}" + (
            f" with challengers {', '.join(f'v{c}' for c in challengers)}" if challengers else ""
        )
        return (
            "roll_back",
            f"v{state.version} {state.phase} is superseded: git wants {asks}, {holder}: rolling it back",
        )
    return "resume", f"v{state.version} {state.phase} and {holder}: taking it over"


def reconcile_environment(
    ws: Workspace,
    env_name: str,
    models: tuple[str, ...] = (),
    *,
    owner: str,
    now: float,
    tracking_uri: str | None = None,
    clock: Clock | None = None,
    settings: Settings | None = None,
) -> list[Look]:
    """Look at every endpoint of the environment (or `models`) and take over the unattended rollouts."""
    from cd.errors import UsageError

    env = ws.environment(env_name)
    unknown = [m for m in models if m not in env.models]
    if unknown:
        raise UsageError(
            f"{env.path or env.name}: model(s) {', '.join(unknown)} not in environment {env.name}"
        )
    target = ws.target(env)
    looks = []
    for model in models or tuple(sorted(env.models)):
        endpoint = env.endpoint_name(model)
        observed = target.observe(endpoint)
        state = decode(observed.record) if observed is not None else None
        gone = state is not None and bool(state.lease_owner) and holder_is_gone(state.lease_owner, owner)
        deployment = env.models[model]
        verdict, message = unattended(state, deployment.version, owner, now, gone, deployment.challengers)
        running = _running_images(observed)
        if (
            state is not None
            and verdict == "resume"
            and any(c not in running for c in deployment.challengers)
        ):
            verdict, message = _stalled(state, deployment.challengers, running)
        look = Look(model, endpoint, verdict, message)
        if state is not None and verdict in ("resume", "roll_back"):
            report = _take_over(
                ws,
                env_name,
                target,
                replace(state, model=model),
                verdict,
                message,
                running,
                owner,
                tracking_uri,
                clock,
                settings,
            )
            look = replace(look, report=report)
        looks.append(look)
    return looks


def _running_images(observed: ObservedEndpoint | None) -> dict[int | None, str]:
    """Version -> the image the endpoint runs it with."""
    return {v.model_version: v.image for v in observed.variants} if observed is not None else {}


def _stalled(
    state: RolloutState, challengers: tuple[int, ...], running: Mapping[int | None, str]
) -> tuple[Verdict, str]:
    """A resumable experiment whose challengers are not all on the endpoint. Only their build records
    name their images, and reconcile has none: before anything was added (stable serves all traffic) the
    rollout waits for a deploy; once versions were added, one missing is a rollback."""
    if state.version in running:
        return "roll_back", f"v{state.version} {state.phase}, but a challenger is missing: rolling it back"
    names = ", ".join(f"v{c}" for c in challengers)
    return "stalled", (
        f"v{state.version} {state.phase}: its run ended before it added v{state.version} and the challengers "
        f"{names} (stable serves all traffic); re-run the deploy, which has their build records"
    )


def _take_over(
    ws: Workspace,
    env_name: str,
    target: Target,
    state: RolloutState,
    verdict: Verdict,
    why: str,
    running: Mapping[int | None, str],
    owner: str,
    tracking_uri: str | None,
    clock: Clock | None,
    settings: Settings | None,
) -> RolloutReport:
    from cd.rollout.deploy import DeployRequest, deploy, registry_alias_setter
    from cd.rollout.github_sync import observers_for
    from cd.rollout.operate import abort, drive_rollback

    env = ws.environment(env_name)
    endpoint = env.endpoint_name(state.model)
    deployment = env.models[state.model]
    if verdict == "roll_back":
        if state.phase != "rolling_back":
            abort(target, endpoint, by=f"reconcile ({owner})", reason=why)
        return drive_rollback(target, endpoint, env.rollout, owner=owner, clock=clock, settings=settings)
    request = DeployRequest(
        ws.root,
        env.name,
        (state.model,),
        {state.model: running.get(deployment.version, state.image)},
        owner,
        state.git_sha or ws.head_commit(),
        ws.root / ".modelcd/rollouts",
        {state.model: {c: running[c] for c in deployment.challengers if c in running}},
    )
    [report] = deploy(
        ws.config,
        request,
        target=target,
        clock=clock,
        settings=settings,
        alias_setter_for=registry_alias_setter(tracking_uri),
        observers=observers_for(ws),
    )
    return report

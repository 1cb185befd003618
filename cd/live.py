"""Live state first: a version enters an environment only once it is live where it is promoted from.

Git says what should run; only the endpoint says what runs. After staging rolled v4 back on its own, git
still says v4 there (until the rollback PR merges), so a check against git alone would let production
take the version staging just refused. These checks read the upstream endpoint itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from cd.config.model import Environment, RepoConfig
from cd.drift import live_version
from cd.errors import Problem
from cd.rollout.record import decode
from cd.rollout.target import ObservedEndpoint, Target, variant_name

if TYPE_CHECKING:
    from cd.plan import Plan
    from cd.workspace import Workspace

Observe = Callable[[Environment, str], ObservedEndpoint | None]  # (environment, model) -> its endpoint


def describe_live(observed: ObservedEndpoint | None) -> str:
    """What an endpoint serves, with the last rollout's outcome when it did not succeed."""
    if observed is None:
        return "has no endpoint"
    live = live_version(observed)
    text = f"serves v{live}" if live is not None else f"serves no version alone ({observed.status})"
    state = decode(observed.record)
    if state is not None and state.version != live and state.phase != "succeeded":
        text += f"; its rollout of v{state.version} is {state.phase}: {state.reason}"
    return text


def upstream_refusal(
    config: RepoConfig,
    env: Environment,
    model: str,
    version: int,
    observe: Observe,
    *,
    challenger: bool = False,
) -> str | None:
    """Why `version` of `model` may not enter `env` now, or None. A version already live in `env`, or
    older than what it serves (a rollback), needs nothing from upstream. A `challenger` (of an
    experiment) may also be live upstream as one of its experiment's versions."""
    upstream_name = env.promote_from
    if upstream_name is None or upstream_name not in config.environments:
        return None
    current = live_version(observe(env, model))
    if current is not None and version <= current:
        return None
    upstream = config.environments[upstream_name]
    observed = observe(upstream, model)
    if live_version(observed) == version:
        return None
    if challenger and observed is not None and observed.variant(variant_name(version)) is not None:
        return None
    where = " (alone, or in its experiment)" if challenger else ""
    return (
        f"{env.name} wants {model} v{version}, but {upstream_name} ({upstream.endpoint_name(model)}) "
        f"{describe_live(observed)}: v{version} must be live in {upstream_name}{where} first"
    )


def live_plan_problems(plan: Plan, config: RepoConfig, observe: Observe) -> list[Problem]:
    """The plan's promotions whose version is not live upstream now (`modelcd plan --live`)."""
    from cd.plan import GATED_KINDS

    problems = []
    for change in plan.deployable():
        if change.kind not in GATED_KINDS or change.to_version is None:
            continue
        env = config.environments.get(change.env)
        if env is None:
            continue
        refusal = upstream_refusal(
            config, env, change.model, change.to_version, observe, challenger=change.kind == "challenger"
        )
        if refusal is not None:
            deployment = env.models.get(change.model)
            problems.append(
                Problem(
                    env.path or f"environments/{env.name}.yaml",
                    deployment.line_of(change.to_version) if deployment else None,
                    deployment.key_of(change.to_version) if deployment else f"models.{change.model}.version",
                    refusal,
                )
            )
    return problems


def observer_for(ws: Workspace) -> Observe:
    """Observe endpoints through each environment's own target (one target per environment)."""
    targets: dict[str, Target] = {}

    def observe(env: Environment, model: str) -> ObservedEndpoint | None:
        if env.name not in targets:
            targets[env.name] = ws.target(env)
        return targets[env.name].observe(env.endpoint_name(model))

    return observe

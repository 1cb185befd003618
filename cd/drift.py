"""Drift: the desired state in git against what each endpoint actually serves.

For every model of an environment the endpoint must exist, be InService, route 100 % of traffic to the
desired version, and run it on the instance type and count git asks for. An endpoint that is changing
(Creating, Updating, ...) is reported as a rollout in progress, not as drift. The comparison is pure;
`observe_drift` and `check_all_environments` read the endpoints for `modelcd diff` and `modelcd drift`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from cd.config.model import Environment
from cd.rollout.target import ObservedEndpoint

if TYPE_CHECKING:
    from cd.github.api import IssueInfo
    from cd.github.drift_issues import IssuePlan
    from cd.workspace import Workspace

FULL_TRAFFIC = 99.99  # percent; weights are floats
Severity = Literal["drift", "in_progress"]


@dataclass(frozen=True)
class Finding:
    model: str
    field: str  # endpoint | status | version | weights | instance_type | instance_count
    desired: str
    actual: str
    severity: Severity = "drift"


@dataclass(frozen=True)
class EnvironmentDrift:
    env: str
    findings: tuple[Finding, ...]

    @property
    def drifted(self) -> bool:
        return any(f.severity == "drift" for f in self.findings)


def live_version(observed: ObservedEndpoint | None) -> int | None:
    """The version serving all traffic of an InService endpoint; None if none does."""
    if observed is None or observed.status != "InService":
        return None
    for variant in observed.variants:
        if variant.model_version is not None and observed.weights.get(variant.name, 0.0) >= FULL_TRAFFIC:
            return variant.model_version
    return None


def _weights_text(observed: ObservedEndpoint) -> str:
    weights = observed.weights
    return ", ".join(f"{name} {weights.get(name, 0.0):g}%" for name in sorted(weights)) or "no traffic"


def model_findings(env: Environment, model: str, observed: ObservedEndpoint | None) -> list[Finding]:
    deployment = env.models[model]
    endpoint = env.endpoint_name(model)
    want = f"v{deployment.version}"
    if observed is None:
        return [Finding(model, "endpoint", f"{endpoint} serving {want}", "does not exist")]
    if observed.transitional:
        return [Finding(model, "status", "InService", observed.status, "in_progress")]
    if observed.status != "InService":
        reason = f": {observed.failure_reason}" if observed.failure_reason else ""
        return [Finding(model, "status", "InService", observed.status + reason)]
    findings = []
    live = live_version(observed)
    if live is None:
        findings.append(Finding(model, "weights", f"{want} 100%", _weights_text(observed)))
    elif live != deployment.version:
        findings.append(Finding(model, "version", want, f"v{live}"))
    variant = observed.variant(f"v{live}") if live is not None else None
    if variant is not None:
        if variant.instance_type != deployment.serving.instance_type:
            findings.append(
                Finding(model, "instance_type", deployment.serving.instance_type, variant.instance_type)
            )
        if variant.instance_count != deployment.serving.instance_count:
            findings.append(
                Finding(
                    model,
                    "instance_count",
                    str(deployment.serving.instance_count),
                    str(variant.instance_count),
                )
            )
    return findings


def environment_drift(env: Environment, observed: Mapping[str, ObservedEndpoint | None]) -> EnvironmentDrift:
    """Compare every model of `env` with `observed` (by model name; a missing key means no endpoint)."""
    findings: list[Finding] = []
    for model in sorted(env.models):
        findings.extend(model_findings(env, model, observed.get(model)))
    return EnvironmentDrift(env.name, tuple(findings))


def render_drift(drift: EnvironmentDrift) -> str:
    """Markdown table of the findings (for `modelcd diff`, the job summary and the drift issue)."""
    if not drift.findings:
        return f"**{drift.env}**: in sync with git.\n"
    state = "drifted from git" if drift.drifted else "rollout in progress"
    lines = [
        f"**{drift.env}**: {state}.",
        "",
        "| model | field | git | actual |",
        "| --- | --- | --- | --- |",
    ]
    for f in drift.findings:
        note = " (rollout in progress)" if f.severity == "in_progress" else ""
        lines.append(f"| {f.model} | {f.field} | {f.desired} | {f.actual}{note} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- `modelcd diff` and `modelcd drift`


def observe_drift(ws: Workspace, env_name: str) -> EnvironmentDrift:
    """Desired (the working tree) vs actual (the environment's endpoints, observed now)."""
    env = ws.environment(env_name)
    target = ws.target(env)
    return environment_drift(env, {m: target.observe(env.endpoint_name(m)) for m in sorted(env.models)})


@dataclass(frozen=True)
class DriftRun:
    drifts: tuple[EnvironmentDrift, ...]
    issues: tuple[tuple[IssuePlan, IssueInfo | None], ...] | None  # None: no GitHub settings


def check_all_environments(ws: Workspace) -> DriftRun:
    """Every environment against its endpoints; with GitHub settings, one issue per drifted environment
    is opened or updated and resolved ones are closed."""
    from cd.github.actions import run_url
    from cd.github.drift_issues import sync_drift_issues

    drifts = tuple(observe_drift(ws, name) for name in sorted(ws.config.environments))
    client = ws.github_if_configured()
    if client is None:
        return DriftRun(drifts, None)
    return DriftRun(drifts, tuple(sync_drift_issues(client, drifts, run_url(ws.environ))))

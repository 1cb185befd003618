"""`modelcd experiment`: read the business metric of a running experiment, decide, and act on it.

The experiment is a rollout (`strategy: experiment`) whose record is `experimenting`: the split is held.
The metric per variant comes from one of two sources (docs/monitoring.md):

- `outcomes`: a table of outcomes (CSV: `inference_id`, the metric's column, optionally `row`) joined with
  the data capture, which says which variant answered each inference id;
- `cloudwatch`: custom metrics the application publishes per variant (namespace, the metric with the
  dimensions EndpointName and VariantName; Sum and SampleCount, and a metric of the squares when the
  values are not 0/1).

Then (`cd.rollout.experiment.decide_experiment`): the candidate wins -> the rollout goes on to 100 % and a
promotion PR opens for the next environment; stable wins, time runs out, or `--stop` -> all traffic back to
stable and a PR sets git back; otherwise nothing changes and the numbers are reported.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cd.config.model import Environment, Experiment, ExperimentPolicy
from cd.errors import MonitorError, RolloutError
from cd.rollout.experiment import Arm, ExperimentDecision, decide_experiment
from cd.rollout.record import RolloutState, decode, for_write
from cd.rollout.target import ObservedEndpoint, Target, variant_name, version_of_variant

if TYPE_CHECKING:
    from cd.github.proposals import Proposal
    from cd.rollout.controller import Clock, RolloutReport
    from cd.workspace import Workspace


@dataclass(frozen=True)
class ExperimentRun:
    environment: str
    model: str
    endpoint: str
    decision: ExperimentDecision
    acted: str  # what was done: "nothing", "completed", "rolled back"
    report: RolloutReport | None = None
    proposal: Proposal | None = None
    note: str = ""

    def render(self) -> str:
        d = self.decision
        lines = [f"{self.endpoint}: {d.outcome.replace('_', ' ')}: {d.message}"]
        for a in d.arms:
            lines.append(f"  {a.variant} (v{a.version}): n {a.n}, mean {a.mean:.4g}")
        for c in d.comparisons:
            lines.append(
                f"  {c.challenger} - {c.control}: {c.difference:+.4g} [{c.low:+.4g}, {c.high:+.4g}] "
                f"(always-valid p {c.p_value:.3g}, level {c.level:.3g})"
            )
        lines.append(f"  action: {self.acted}" + (f" ({self.report.message})" if self.report else ""))
        if self.proposal is not None:
            lines.append(f"  {self.proposal.describe()}")
        if self.note:
            lines.append(f"  note: {self.note}")
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the metric per variant


def arms_from_outcomes(
    variants: dict[str, int | None],
    ids: np.ndarray,
    rows: np.ndarray,
    answered_by: np.ndarray,
    outcomes: Any,
    metric: str,
) -> list[Arm]:
    """Join outcomes (inference_id, row, metric) with who answered each request (pure)."""
    import pandas as pd

    live = pd.DataFrame({"inference_id": ids.astype(str), "row": rows.astype(int), "variant": answered_by})
    joined = live.merge(outcomes, on=["inference_id", "row"], how="inner")
    arms = []
    for name, version in variants.items():
        values = joined.loc[joined["variant"] == name, metric].astype(float).to_numpy()
        arms.append(Arm(name, version, len(values), float(values.sum()), float((values * values).sum())))
    return arms


def _read_outcomes(path: Path, metric: str) -> Any:
    import pandas as pd

    from cd.monitor.run import read_outcomes

    frame = read_outcomes(path, metric, "outcomes")
    values = pd.to_numeric(frame[metric], errors="coerce")
    if values.isna().any():
        bad = int(values.isna().idxmax()) + 2  # the header is line 1
        raise MonitorError(f"outcomes {path}:{bad}: {metric} is not a number")
    frame[metric] = values
    return frame[["inference_id", "row", metric]]


def _cloudwatch_arms(
    env: Environment,
    policy: ExperimentPolicy,
    endpoint: str,
    variants: dict[str, int | None],
    start: float,
    end: float,
) -> list[Arm]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from cd.aws import client_config
    from cd.config.model import SageMakerTargetConfig

    region = env.target.region if isinstance(env.target, SageMakerTargetConfig) else None
    cw = boto3.client("cloudwatch", region_name=region, config=client_config("standard", 5))
    period = max(60, math.ceil((end - start) / 60.0) * 60)

    def stat(name: str, variant: str, statistic: str) -> float:
        try:
            data = cw.get_metric_statistics(
                Namespace=policy.namespace,
                MetricName=name,
                Dimensions=[
                    {"Name": "EndpointName", "Value": endpoint},
                    {"Name": "VariantName", "Value": variant},
                ],
                StartTime=datetime.fromtimestamp(start, UTC),
                EndTime=datetime.fromtimestamp(end, UTC),
                Period=period,
                Statistics=[statistic],
            )
        except (BotoCoreError, ClientError) as exc:
            raise MonitorError(f"CloudWatch {policy.namespace}/{name} of {variant}: {exc}") from exc
        return float(sum(p[statistic] for p in data.get("Datapoints", [])))

    arms = []
    for name, version in variants.items():
        n = int(stat(policy.metric, name, "SampleCount"))
        total = stat(policy.metric, name, "Sum")
        squares = stat(policy.squares_metric, name, "Sum") if policy.squares_metric else total  # 0/1: x^2 = x
        arms.append(Arm(name, version, n, total, squares))
    return arms


# ---------------------------------------------------------------- running it


def _experiment_state(target: Target, endpoint: str) -> tuple[ObservedEndpoint, RolloutState]:
    observed = target.observe(endpoint)
    state = decode(observed.record) if observed is not None else None
    if observed is None or state is None or state.phase != "experimenting" or state.stable_version is None:
        what = (
            "no endpoint"
            if observed is None
            else "no rollout record"
            if state is None
            else f"v{state.version} {state.phase}"
        )
        raise RolloutError(f"no experiment is running on {endpoint} ({what})")
    return observed, state


def run_experiment(
    ws: Workspace,
    env_name: str,
    model: str,
    *,
    outcomes: Path | None = None,
    stop: bool = False,
    clock: Clock | None = None,
) -> ExperimentRun:
    from cd.rollout.owner import default_owner

    env = ws.environment(env_name)
    policy = env.rollout.experiment
    if policy is None or model not in env.models:
        raise RolloutError(f"{env.path}: {model} in {env.name} runs no experiment (strategy: experiment)")
    endpoint = env.endpoint_name(model)
    target = ws.target(env)
    observed, state = _experiment_state(target, endpoint)
    at = clock.now() if clock is not None else time.time()
    variants: dict[str, int | None] = {
        variant_name(v): v for v in (state.stable_version or 0, state.version, *state.challengers)
    }
    arms = _arms(ws, env, policy, model, endpoint, variants, state.step_started_at, at, outcomes)
    step = env.rollout.steps[state.step_index] if state.step_index < len(env.rollout.steps) else None
    duration = step.seconds if isinstance(step, Experiment) else 0.0
    decision = decide_experiment(arms, policy, elapsed=at - state.step_started_at, duration=duration)
    if stop:
        decision = replace(decision, outcome="expired", message=f"stopped by hand: {decision.message}")
    owner = default_owner()
    match decision.outcome:
        case "candidate_wins" if decision.winner == variant_name(state.version):
            report = _complete(target, endpoint, env, observed, state, decision, owner, clock)
            return ExperimentRun(
                env.name, model, endpoint, decision, "completed", report, _promotion(ws, env, model)
            )
        case "candidate_wins":
            report = _complete(target, endpoint, env, observed, state, decision, owner, clock)
            return ExperimentRun(
                env.name,
                model,
                endpoint,
                decision,
                "completed",
                report,
                _adopt_winner(ws, env, model, report.version, decision),
                note=f"git asks for v{state.version}: merge the PR that sets it to the winner, then promote it",
            )
        case "stable_wins" | "expired":
            from cd.rollout.operate import abort, drive_rollback

            abort(target, endpoint, by=owner, reason=f"experiment: {decision.message}")
            report = drive_rollback(target, endpoint, env.rollout, owner=owner, clock=clock)
            return ExperimentRun(
                env.name, model, endpoint, decision, "rolled back", report, _set_back(ws, env, model)
            )
        case "undecided" | "not_enough_data":
            return ExperimentRun(env.name, model, endpoint, decision, "nothing: the split holds")


def _arms(
    ws: Workspace,
    env: Environment,
    policy: ExperimentPolicy,
    model: str,
    endpoint: str,
    variants: dict[str, int | None],
    start: float,
    end: float,
    outcomes: Path | None,
) -> list[Arm]:
    if policy.source == "cloudwatch":
        return _cloudwatch_arms(env, policy, endpoint, variants, start, end)
    if outcomes is None:
        raise MonitorError(f"{env.path}: the experiment's metric comes from outcomes: pass --outcomes FILE")
    from cd.monitor.run import capture_source
    from cd.monitor.window import read_window

    spec = ws.config.models[model]
    window = read_window(capture_source(ws, env), endpoint, start, end, spec.inputs, spec.task)
    table = _read_outcomes(outcomes, policy.metric)
    return arms_from_outcomes(
        variants, window.inference_ids, window.row_in_request, window.variants, table, policy.metric
    )


def _complete(
    target: Target,
    endpoint: str,
    env: Environment,
    observed: ObservedEndpoint,
    state: RolloutState,
    decision: ExperimentDecision,
    owner: str,
    clock: Clock | None,
) -> RolloutReport:
    """A version beside stable won: the experiment step is done; the controller takes the winner to
    100 %. When the winner is a challenger, the record rolls it out instead of git's version, which it
    names (`outvoted`) until git is set to the winner."""
    from cd.rollout.controller import Controller
    from cd.rollout.decide import Desired, spec_of
    from cd.rollout.deploy import settings_for

    specs = {
        v.model_version: spec_of(v)
        for v in observed.variants
        if v.model_version in (state.version, *state.challengers)
    }
    winner = version_of_variant(decision.winner or "")
    if winner is None or winner not in specs:
        raise RolloutError(f"{endpoint}: the experiment's winner {decision.winner} is not on the endpoint")
    won = replace(
        state, phase="progressing", step_index=state.step_index + 1, reason=f"experiment: {decision.message}"
    )
    if winner != state.version:
        won = replace(won, version=winner, image=specs[winner].image, challengers=(), outvoted=state.version)
    tags, expect = for_write(won, dict(observed.record))
    target.write_record(endpoint, tags, expect_revision=expect)
    others = tuple(specs[v] for v in won.challengers if v in specs)
    controller = Controller(target, env.rollout, clock=clock, settings=settings_for(target))
    return controller.run(
        Desired(endpoint, state.model, specs[winner], git_sha=state.git_sha, owner=owner, challengers=others)
    )


def _promotion(ws: Workspace, env: Environment, model: str) -> Proposal | None:
    """A promotion PR for the winner into each environment that promotes from this one."""
    from cd.errors import PromotionError
    from cd.github.proposals import promote

    downstream = [
        e for e in ws.config.environments.values() if e.promote_from == env.name and model in e.models
    ]
    for target_env in downstream:
        try:
            return promote(ws, model, env.name, target_env.name, None)
        except PromotionError:
            continue
    return None


def _adopt_winner(
    ws: Workspace, env: Environment, model: str, version: int, decision: ExperimentDecision
) -> Proposal | None:
    """A challenger won and serves alone: propose setting git to it (its version, no challengers)."""
    from cd.errors import PromotionError
    from cd.github.proposals import propose_version

    base = ws.current_branch()
    environment = ws.environment(env.name, ws.config_at(base))
    if environment.models[model].version == version:
        return None
    body = (
        f"v{version} of `{model}` won the experiment in `{env.name}` and now serves alone:\n\n"
        f"{decision.message}\n\n"
        "Merging sets git to what is live; then promote it onward with `modelcd promote`.\n\n"
        "_Opened by `modelcd experiment`. The diff is the version line and the experiment's `challengers`._\n"
    )
    try:
        return propose_version(
            ws.root,
            environment,
            model=model,
            version=version,
            branch=f"modelcd/experiment-{model}-{env.name}-v{version}",
            title=f"Set {model} in {env.name} to v{version}, the experiment's winner",
            body=body,
            base=base,
            client=ws.proposal_github(),
        )
    except PromotionError:
        return None


def _set_back(ws: Workspace, env: Environment, model: str) -> Proposal | None:
    """Git still asks for the candidate: propose setting it back to what is live (stable)."""
    from cd.errors import PromotionError
    from cd.github.proposals import rollback

    try:
        return rollback(ws, env.name, model, None, None)
    except PromotionError:
        return None


def running_experiments(ws: Workspace, env_name: str) -> list[str]:
    """The models of `env_name` whose endpoint holds an experiment now (the scheduled job's list)."""
    env = ws.environment(env_name)
    if env.rollout.strategy != "experiment":
        return []
    target = ws.target(env)
    running = []
    for model in sorted(env.models):
        observed = target.observe(env.endpoint_name(model))
        state = decode(observed.record) if observed is not None else None
        if state is not None and state.phase == "experimenting":
            running.append(model)
    return running

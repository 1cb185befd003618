"""GitHub Actions matrices from a plan: one gate per promotion, one build per model version.

The matrices are pure functions of a plan; `plan_matrix` reads the plan from git for `modelcd matrix`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cd.config.model import Analysis, Bake, Environment, RepoConfig, SetWeight, Shadow
from cd.files import write_atomic
from cd.plan import GATED_KINDS, Plan

if TYPE_CHECKING:
    from cd.workspace import Workspace

MatrixKind = Literal["gate", "build", "deploy"]


def gate_matrix(plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """One entry per (environment, model) whose version is new there: the gates to evaluate."""
    return {
        "include": [
            {"env": c.env, "model": c.model, "from": c.from_version, "to": c.to_version, "change": c.kind}
            for c in plan.changes
            if c.kind in GATED_KINDS
        ]
    }


def build_matrix(plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """One entry per (model, version) some environment deploys: built and released once. An experiment
    deploys each of its versions together, so a change to it builds them all (a released version is
    taken from its release).

    `env` is the first environment (in plan order) that deploys it: its target names the image repository.
    """
    first_env: dict[tuple[str, int], str] = {}
    for change in plan.deployable():
        if change.to_version is not None:
            for version in (change.to_version, *change.challengers):
                first_env.setdefault((change.model, version), change.env)
    return {
        "include": [
            {"model": model, "version": version, "env": first_env[(model, version)]}
            for model, version in sorted(first_env)
        ]
    }


def deploy_matrix(plan: Plan) -> dict[str, list[dict[str, Any]]]:
    return plan.matrix()


def matrix_for(plan: Plan, kind: MatrixKind) -> dict[str, list[dict[str, Any]]]:
    return {"gate": gate_matrix, "build": build_matrix, "deploy": deploy_matrix}[kind](plan)


def changed_environments(plan: Plan, config: RepoConfig) -> list[str]:
    """Environments with something to deploy, in promotion order (each after its `promote_from`)."""
    changed = {c.env for c in plan.deployable()}
    return [name for name in config.promotion_order() if name in changed]


# A SageMaker endpoint update (new fleet, health checks, traffic) takes minutes: budget each one.
UPDATE_BUDGET_SECONDS = 15 * 60
MAX_JOB_MINUTES = 360  # GitHub-hosted runners stop a job after 6 hours


def deploy_timeout_minutes(env: Environment) -> int:
    """The deploy job's timeout for `env`: every step's duration, every analysis' longest extension,
    and an update budget for each endpoint change a rollout (or its rollback) makes."""
    steps = env.rollout.steps
    seconds = sum(s.seconds for s in steps if isinstance(s, Bake | Shadow))
    seconds += sum(s.policy.max_extension for s in steps if isinstance(s, Analysis))
    changes = 3 + sum(1 for s in steps if isinstance(s, SetWeight | Shadow))  # add, finalize, roll back
    minutes = math.ceil((seconds + changes * UPDATE_BUDGET_SECONDS) / 60) * max(1, len(env.models))
    return min(MAX_JOB_MINUTES, minutes)


def deploy_environments(config: RepoConfig, names: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The deploy job's matrix: one entry per environment, in promotion order, with its timeout."""
    return {
        "include": [
            {"env": name, "timeout_minutes": deploy_timeout_minutes(config.environments[name])}
            for name in names
        ]
    }


def plan_matrix_file(plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """Every change (removals too) in the matrix shape: what the PR report reads."""
    return {
        "include": [
            {"env": c.env, "model": c.model, "from": c.from_version, "to": c.to_version, "change": c.kind}
            for c in plan.changes
        ]
    }


@dataclass(frozen=True)
class PlanMatrix:
    """`modelcd matrix`: the plan, its matrix of `kind`, and the environments with something to deploy."""

    plan: Plan
    matrix: dict[str, list[dict[str, Any]]]
    environments: list[str]  # with something to deploy, in promotion order
    deploys: dict[str, list[dict[str, Any]]]  # the deploy job's matrix over `environments`


def plan_matrix(ws: Workspace, base: str, head: str, kind: MatrixKind, write: Path | None) -> PlanMatrix:
    """The matrix of the plan between two commits; with `write`, every change also goes to that file
    (what the PR report reads). A plan with problems writes nothing."""
    from cd.plan import plan_between_refs

    plan = plan_between_refs(ws.root, base, head)
    if not plan.problems and write is not None:
        write_atomic(write, json.dumps(plan_matrix_file(plan), indent=2) + "\n")
    environments = changed_environments(plan, ws.config)
    return PlanMatrix(
        plan, matrix_for(plan, kind), environments, deploy_environments(ws.config, environments)
    )

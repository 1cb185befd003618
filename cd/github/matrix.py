"""GitHub Actions matrices from a plan: one gate per promotion, one build per model version. Pure."""

from __future__ import annotations

from typing import Any, Literal

from cd.plan import Plan

MatrixKind = Literal["gate", "build", "deploy"]
GATED = ("added", "promoted")


def gate_matrix(plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """One entry per (environment, model) whose version is new there: the gates to evaluate."""
    return {
        "include": [
            {"env": c.env, "model": c.model, "from": c.from_version, "to": c.to_version, "change": c.kind}
            for c in plan.changes
            if c.kind in GATED
        ]
    }


def build_matrix(plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """One entry per (model, version) some environment deploys: built and released once.

    `env` is the first environment (in plan order) that deploys it: its target names the image repository.
    """
    first_env: dict[tuple[str, int], str] = {}
    for change in plan.deployable():
        if change.to_version is not None:
            first_env.setdefault((change.model, change.to_version), change.env)
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


def changed_environments(plan: Plan) -> list[str]:
    """Environments with something to deploy (in plan order, once each)."""
    return list(dict.fromkeys(c.env for c in plan.deployable()))


def plan_matrix_file(plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """Every change (removals too) in the matrix shape: what the PR report reads."""
    return {
        "include": [
            {"env": c.env, "model": c.model, "from": c.from_version, "to": c.to_version, "change": c.kind}
            for c in plan.changes
        ]
    }

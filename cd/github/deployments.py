"""GitHub deployments and deployment statuses for environment rollouts: in_progress when a rollout
starts, success or failure when it ends (called by `cd.rollout.github_sync.GitHubDeploymentStatuses`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cd.github.api import GitHubClient

DeploymentState = Literal["queued", "in_progress", "success", "failure", "error", "inactive"]


@dataclass(frozen=True)
class TrackedDeployment:
    id: int
    environment: str
    model: str
    version: int


def deployment_task(model: str) -> str:
    """One deployment task per model: models share an environment, never each other's deployments."""
    return f"deploy:{model}"


def start_deployment(
    client: GitHubClient, *, env: str, model: str, version: int, ref: str, log_url: str = ""
) -> TrackedDeployment:
    """Create the deployment of `model` v`version` to `env` at `ref` and mark it in_progress."""
    info = client.create_deployment(
        ref,
        env,
        f"{model} v{version}",
        payload={"model": model, "version": version},
        task=deployment_task(model),
    )
    client.create_deployment_status(
        info.id, "in_progress", f"rolling out {model} v{version}", log_url=log_url
    )
    return TrackedDeployment(info.id, env, model, version)


def finish_deployment(
    client: GitHubClient,
    deployment: TrackedDeployment,
    state: DeploymentState,
    description: str,
    *,
    log_url: str = "",
    environment_url: str = "",
) -> None:
    # GitHub's `auto_inactive` would mark every earlier successful deployment to the environment inactive,
    # other models' too; modelcd retires only this model's earlier deployments itself.
    client.create_deployment_status(
        deployment.id,
        state,
        description,
        log_url=log_url,
        environment_url=environment_url,
        auto_inactive=False,
    )
    if state == "success":
        for earlier in client.deployments(
            environment=deployment.environment, task=deployment_task(deployment.model)
        ):
            if earlier.id != deployment.id and client.deployment_state(earlier.id) == "success":
                client.create_deployment_status(
                    earlier.id,
                    "inactive",
                    f"superseded by {deployment.model} v{deployment.version}",
                    auto_inactive=False,
                )

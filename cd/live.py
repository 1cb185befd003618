"""What is live where: builds the rollout `Target` of an environment and observes its endpoints.

The adapter between git's environments and the serving targets (SageMaker through boto3, or the local
target's state file). Heavy imports happen only here, inside the functions.
"""

from __future__ import annotations

from pathlib import Path

from cd.config.model import Environment, LocalTarget, SageMakerTarget
from cd.rollout.target import ObservedEndpoint, Target


def target_for(env: Environment, repo_root: Path) -> Target:
    """The rollout target that serves `env`."""
    if isinstance(env.target, SageMakerTarget):
        from cd.rollout.sagemaker import SageMakerEndpoints

        return SageMakerEndpoints.create(env.target.region, env.target.role_arn)
    assert isinstance(env.target, LocalTarget)
    from cd.rollout.local.target import LocalTarget as LocalProcesses

    return LocalProcesses.from_config(env.target, repo_root)


def observe_environment(env: Environment, target: Target) -> dict[str, ObservedEndpoint | None]:
    """Every model endpoint of `env` as the target reports it now (None: the endpoint does not exist)."""
    return {model: target.observe(env.endpoint_name(model)) for model in sorted(env.models)}

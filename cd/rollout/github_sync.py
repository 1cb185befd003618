"""What a deploy tells the world besides the endpoint: GitHub deployment statuses for each rollout, and,
after an automatic rollback, the branch (and pull request, with GitHub settings) that sets git back to
what is live, so that git and reality agree again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cd.config.model import Environment
from cd.errors import ModelcdError
from cd.rollout.controller import RolloutReport
from cd.rollout.deploy import DeployObserver

if TYPE_CHECKING:
    from cd.github.deployments import DeploymentState
    from cd.workspace import Workspace

Say = Callable[[str], None]


class GitRollbackProposer:
    """After an automatic rollback, propose the change that puts git back in line with the endpoint."""

    def __init__(self, root: Path, client: Callable[[], Any], say: Say) -> None:
        self.root, self.client, self.say = root, client, say  # client: made only when a PR is opened

    def started(self, env: Environment, model: str, version: int) -> None:
        return None

    def failed(self, env: Environment, model: str, version: int, error: str) -> None:
        return None  # no outcome, nothing for git to follow

    def finished(self, env: Environment, model: str, report: RolloutReport) -> None:
        if report.outcome != "rolled_back":
            return
        from cd.github.proposals import propose_rollback
        from cd.gitrepo import current_branch
        from cd.promote import plan_rollback

        stable = report.stable_version
        try:
            plan = plan_rollback(env, model, stable, None)
            proposal = propose_rollback(
                self.root,
                env,
                plan,
                base=current_branch(self.root),
                client=self.client(),
                reason=f"The rollout of {model} v{report.version} was rolled back automatically: {report.message}",
            )
        except ModelcdError as exc:  # the rollback itself stands; say why git could not follow
            self.say(f"warning: could not propose the git rollback for {model} in {env.name}: {exc}")
            return
        self.say(f"git rollback proposed: {proposal.describe()}")


class GitHubDeploymentStatuses:
    """A GitHub deployment per rollout: in_progress when it starts, success or failure when it ends."""

    def __init__(self, client: Any, ref: str, say: Say) -> None:
        self.client, self.ref, self.say = client, ref, say
        self._open: dict[tuple[str, str], Any] = {}

    def started(self, env: Environment, model: str, version: int) -> None:
        from cd.github.actions import run_url
        from cd.github.deployments import start_deployment

        try:
            self._open[(env.name, model)] = start_deployment(
                self.client, env=env.name, model=model, version=version, ref=self.ref, log_url=run_url() or ""
            )
        except ModelcdError as exc:
            self.say(f"warning: GitHub deployment for {model} in {env.name} not recorded: {exc}")

    def finished(self, env: Environment, model: str, report: RolloutReport) -> None:
        state: DeploymentState = "success" if report.ok else "failure"
        self._finish(env, model, state, f"{model} v{report.version}: {report.outcome}")

    def failed(self, env: Environment, model: str, version: int, error: str) -> None:
        """A rollout that raised still finishes its deployment (`error`), never left `in_progress`."""
        self._finish(env, model, "error", f"{model} v{version}: stopped: {error}")

    def _finish(self, env: Environment, model: str, state: DeploymentState, description: str) -> None:
        from cd.github.actions import run_url
        from cd.github.deployments import finish_deployment

        deployment = self._open.pop((env.name, model), None)
        if deployment is None:
            return
        try:
            finish_deployment(self.client, deployment, state, description[:140], log_url=run_url() or "")
        except ModelcdError as exc:
            self.say(f"warning: GitHub deployment status for {model} in {env.name} not recorded: {exc}")


def observers_for(ws: Workspace) -> list[DeployObserver]:
    """Git sync always; GitHub deployment statuses when GITHUB_TOKEN and GITHUB_REPOSITORY are set."""
    client = ws.github_if_configured()
    observers: list[DeployObserver] = [GitRollbackProposer(ws.root, ws.proposal_github, ws.say)]
    if client is not None:
        ref = ws.environ.get("GITHUB_SHA") or "HEAD"
        observers.append(GitHubDeploymentStatuses(client, ref, ws.say))
    return observers

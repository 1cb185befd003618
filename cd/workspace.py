"""The one entry of every command: where the repository is, what it wants, and what it talks to.

One rule finds the root: the nearest directory, from the current one upwards, that holds an
`environments/` directory (or the `--repo` directory given, which must hold one). Outside such a tree
every command stops with exit 1 and says what it looked for and where.

The workspace loads the configuration once, looks environments and models up with one message each,
builds the serving target of an environment (the one factory), hands out the GitHub client (required
or optional: two methods), and carries the `say` sink through which the library reports progress. The
library never prints.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from cd.errors import GitError, UsageError, WorkspaceError

if TYPE_CHECKING:
    from cd.config.model import Environment, ModelSpec, RepoConfig
    from cd.github.actions import GitHubEvent
    from cd.github.api import GitHubClient
    from cd.registry import Registry
    from cd.rollout.target import Target

MARKER = "environments"
Say = Callable[[str], None]


def _silent(text: str) -> None:
    del text


def find_root(repo: Path | None = None, *, start: Path | None = None) -> Path:
    """The modelcd repository root: `repo` when given (it must hold `environments/`), else the nearest
    directory from `start` (default: the current directory) upwards that holds `environments/`."""
    if repo is not None:
        root = repo.resolve()
        if not root.is_dir():
            raise WorkspaceError(f"--repo {repo}: no such directory")
        if not (root / MARKER).is_dir():
            raise WorkspaceError(
                f"--repo {root}: not a modelcd repository (it has no {MARKER}/ directory); "
                "point --repo at the top of a repository made from the modelcd template"
            )
        return root
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / MARKER).is_dir():
            return candidate
    raise WorkspaceError(
        f"not inside a modelcd repository: looked for an {MARKER}/ directory in {here} and every "
        "directory above it; run modelcd from a repository made from the template, or pass --repo"
    )


@dataclass
class Workspace:
    """A modelcd repository and what its commands talk to. Build it with `Workspace.find`."""

    root: Path
    say: Say = _silent
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    is_repository: bool = True  # False: `Workspace.here`, for commands that need no repository

    @classmethod
    def find(
        cls,
        repo: Path | str | None = None,
        *,
        start: Path | None = None,
        say: Say = _silent,
        environ: Mapping[str, str] | None = None,
    ) -> Workspace:
        root = find_root(Path(repo) if repo is not None else None, start=start)
        return cls(root, say, os.environ if environ is None else environ)

    @classmethod
    def here(cls, *, say: Say = _silent, environ: Mapping[str, str] | None = None) -> Workspace:
        """The current directory, for the commands that read only the files named on their command line
        and talk to GitHub (`comment`, `status-checks` run where the PR's code is not checked out)."""
        return cls(Path.cwd(), say, os.environ if environ is None else environ, is_repository=False)

    # ------------------------------------------------------------------ desired state

    @cached_property
    def config(self) -> RepoConfig:
        """The desired state in the working tree, loaded once."""
        from cd.config import load_repo

        if not self.is_repository:
            find_root(start=self.root)  # raises the one "not inside a modelcd repository" message
        return load_repo(self.root)

    def config_at(self, ref: str) -> RepoConfig:
        """The desired state at a git ref (read through git, no checkout)."""
        from cd.config import load_repo_at_ref

        return load_repo_at_ref(self.root, ref)

    def environment(self, name: str, config: RepoConfig | None = None) -> Environment:
        """The environment `name`, or one message naming its file and the known environments."""
        environments = (config or self.config).environments
        if name not in environments:
            known = ", ".join(sorted(environments)) or "none"
            raise UsageError(f"no environment {name!r} (environments/{name}.yaml); known: {known}")
        return environments[name]

    def model(self, name: str, config: RepoConfig | None = None) -> ModelSpec:
        """The model `name`, or one message naming its file and the known models."""
        models = (config or self.config).models
        if name not in models:
            known = ", ".join(sorted(models)) or "none"
            raise UsageError(f"no model {name!r} (models/{name}/model.yaml); known: {known}")
        return models[name]

    # ------------------------------------------------------------------ git

    def head_commit(self) -> str:
        """The commit being acted on: $GITHUB_SHA inside Actions, else HEAD; '' outside git."""
        from cd.gitrepo import rev_parse

        if self.environ.get("GITHUB_SHA"):
            return self.environ["GITHUB_SHA"]
        try:
            return rev_parse(self.root, "HEAD")
        except GitError:
            return ""

    def current_branch(self) -> str:
        from cd.gitrepo import current_branch

        return current_branch(self.root)

    # ------------------------------------------------------------------ what commands talk to

    def target(self, env: Environment) -> Target:
        """The serving target of `env`: the one factory (SageMaker through boto3, or the local target)."""
        from cd.config.model import LocalTargetConfig, SageMakerTargetConfig

        match env.target:
            case SageMakerTargetConfig():
                from cd.rollout.sagemaker import SageMakerEndpoints

                retry_mode = self.environ.get("MODELCD_AWS_RETRY_MODE", "standard")
                if retry_mode not in ("standard", "adaptive"):
                    raise UsageError(
                        f"MODELCD_AWS_RETRY_MODE must be 'standard' or 'adaptive', not {retry_mode!r}"
                    )
                return SageMakerEndpoints.create(
                    env.target.region,
                    env.target.role_arn,
                    retry_mode="adaptive" if retry_mode == "adaptive" else "standard",
                    alarms=env.rollout.analysis.alarms,
                    capture=env.monitoring.capture,
                )
            case LocalTargetConfig():
                from cd.rollout.local.target import LocalEndpoints

                capture = env.monitoring.capture
                return LocalEndpoints.from_config(
                    env.target, self.root, capture_percentage=capture and capture.sampling_percentage
                )

    def registry(self, tracking_uri: str | None = None) -> Registry:
        """The MLflow registry: `tracking_uri`, else $MLFLOW_TRACKING_URI, else the repository's store."""
        from cd.registry import Registry, default_tracking_uri

        return Registry(
            tracking_uri or self.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(self.root)
        )

    def github_configured(self) -> bool:
        return bool(self.environ.get("GITHUB_TOKEN") and self.environ.get("GITHUB_REPOSITORY"))

    def github(self) -> GitHubClient:
        """The GitHub API client; GitHubError saying which settings are missing when it cannot be made."""
        from cd.github.api import GitHubClient

        return GitHubClient.from_env(self.environ)

    def github_if_configured(self) -> GitHubClient | None:
        """The GitHub API client when GITHUB_TOKEN and GITHUB_REPOSITORY are set, else None."""
        return self.github() if self.github_configured() else None

    def proposal_github(self) -> GitHubClient | None:
        """The client that pushes proposal branches and opens their PRs (promotion, rollback):
        MODELCD_PR_TOKEN when set (a GitHub App installation token or a fine-grained token, whose PRs
        trigger workflows), else GITHUB_TOKEN, with a warning inside Actions."""
        from dataclasses import replace

        from cd.github.api import GitHubClient

        client = self.github_if_configured()
        token = self.environ.get("MODELCD_PR_TOKEN")
        if client is None or token:
            return GitHubClient(replace(client.settings, token=token)) if client and token else client
        if self.in_actions():
            self.say(
                "warning: opening the pull request with GITHUB_TOKEN: GitHub starts no workflows for it, so "
                "its required checks never arrive; set MODELCD_PR_TOKEN (docs/github-setup.md)"
            )
        return client

    def org_github(self, client: GitHubClient) -> GitHubClient | None:
        """A client for organisation reads (team membership) from MODELCD_ORG_TOKEN, when set."""
        from dataclasses import replace

        from cd.github.api import GitHubClient

        token = self.environ.get("MODELCD_ORG_TOKEN")
        return GitHubClient(replace(client.settings, token=token)) if token else None

    def event(self) -> GitHubEvent | None:
        """The GitHub Actions event of this run, when there is one."""
        from cd.github.actions import read_event

        return read_event(self.environ) if self.environ.get("GITHUB_EVENT_PATH") else None

    def in_actions(self) -> bool:
        return self.environ.get("GITHUB_ACTIONS") == "true"

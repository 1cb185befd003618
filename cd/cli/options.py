"""Options every command shares, and the one way a command opens its workspace."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cd.workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])

repo_option = click.option(
    "--repo",
    "repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Repository root (default: the nearest directory upwards that holds environments/).",
)


def env_option(help: str = "Environment name (environments/<env>.yaml).") -> Callable[[F], F]:
    return click.option("--env", "env", required=True, help=help)


def workspace(repo: Path | None, *, say: Callable[[str], None] | None = None) -> Workspace:
    """The workspace of `--repo` (or of the current directory); progress notes go to stdout."""
    return Workspace.find(repo, say=say or click.echo)


def workspace_here() -> Workspace:
    """For commands that need no repository: the current directory."""
    return Workspace.here(say=click.echo)

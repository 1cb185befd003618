"""One exception hierarchy. Every message is meant for a user: it says what is wrong and where.

Exit codes used by the CLI: 0 ok, 1 a user-facing failure (invalid config, failed gate, failed rollout),
2 usage, 3 unexpected (with a hint to rerun with --debug).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_UNEXPECTED = 3


@dataclass(frozen=True)
class Problem:
    """One problem in one file: `file:line: key.path: message`."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ModelcdError(Exception):
    """Root of every error modelcd raises on purpose. `exit_code` is what the CLI returns."""

    exit_code: int = EXIT_FAILURE


class UsageError(ModelcdError):
    exit_code = EXIT_USAGE


class WorkspaceError(ModelcdError):
    """Not inside a modelcd repository (or `--repo` does not name one)."""


class ConfigError(ModelcdError):
    """Invalid configuration: carries every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem] | Problem) -> None:
        self.problems: tuple[Problem, ...] = (problems,) if isinstance(problems, Problem) else tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def merge(cls, errors: Iterable[ConfigError]) -> ConfigError:
        return cls([p for e in errors for p in e.problems])


class GitError(ModelcdError):
    """A git command failed or a ref/file does not exist."""


class RegistryError(ModelcdError):
    """MLflow: missing model or version, unreachable server, unreadable artifacts."""


class DatasetError(ModelcdError):
    """Evaluation dataset: missing, checksum mismatch, missing columns, empty."""


class GateError(ModelcdError):
    """The gate could not be evaluated (not: the gate failed; that is a verdict)."""


class PackageError(ModelcdError):
    """Bento build, export, containerize or push failed."""


class ReleaseError(ModelcdError):
    """Publishing a release failed."""


class GitHubError(ModelcdError):
    """A GitHub API call failed; the message names the call and the status."""


class RolloutError(ModelcdError):
    """The rollout controller refused or stopped (lease held, endpoint failed, ...)."""


class TargetError(ModelcdError):
    """The serving target (SageMaker, local) failed an operation."""


class CredentialsError(ModelcdError):
    """AWS credentials are missing, expired or rejected; the message says how to provide them."""


class CustodyError(ModelcdError):
    """An artifact's identity (model, registered model, version, content sha256) is not what git wants,
    or its bytes do not hash to what its record says."""


class PromotionError(ModelcdError):
    """A promotion or rollback proposal was refused (version not live, already there, wrong order)."""


class MonitorError(ModelcdError):
    """Live traffic cannot be judged: no capture, an unreadable reference or labels file, an empty window."""

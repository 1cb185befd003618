"""Who holds a rollout's lease, and when a holder is known to be gone.

An owner names one run, never a person or a machine alone, so two deploys never share a lease:
- in GitHub Actions `gh:<repository>:<run id>:<attempt>`. GitHub starts a re-run attempt only after
  the previous attempt ended, so a lease held by an earlier attempt of the same run is dead;
- elsewhere `<user>@<host>:<pid>`. A lease held on this host by a process that no longer runs is dead.

Any other lease holds until it expires (`RolloutState.lease_expires_at`); an abort does not wait for it
(see `cd.rollout.operate`).
"""

from __future__ import annotations

import getpass
import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cd.rollout.local.processes import pid_exists

_UNSAFE = re.compile(r"[^A-Za-z0-9 _.:/=+\-@]")
OWNER_MAX = 128


def _safe(raw: str) -> str:
    return _UNSAFE.sub("-", raw)[:OWNER_MAX]


def default_owner(environ: Mapping[str, str] | None = None) -> str:
    """This run's lease owner (see the module docstring)."""
    env = os.environ if environ is None else environ
    run_id = env.get("GITHUB_RUN_ID")
    if run_id:
        repo = env.get("GITHUB_REPOSITORY", "").replace(":", "-")
        return _safe(f"gh:{repo}:{run_id}:{env.get('GITHUB_RUN_ATTEMPT', '1')}")
    return _safe(f"{getpass.getuser()}@{socket.gethostname()}:{os.getpid()}")


@dataclass(frozen=True)
class _GitHubRun:
    repo: str
    run_id: str
    attempt: int


@dataclass(frozen=True)
class _Process:
    where: str  # user@host
    pid: int


def _parse(owner: str) -> _GitHubRun | _Process | None:
    if m := re.fullmatch(r"gh:([^:]*):(\d+):(\d+)", owner):
        return _GitHubRun(m[1], m[2], int(m[3]))
    if m := re.fullmatch(r"([^:@]+@[^:]+):(\d+)", owner):
        return _Process(m[1], int(m[2]))
    return None


def holder_is_gone(holder: str, me: str, running: Callable[[int], bool] = pid_exists) -> bool:
    """Whether the run named `holder` is known to have ended, as seen by run `me`."""
    theirs, mine = _parse(holder), _parse(me)
    match theirs, mine:
        case _GitHubRun(), _GitHubRun():
            return (theirs.repo, theirs.run_id) == (mine.repo, mine.run_id) and theirs.attempt < mine.attempt
        case _Process(), _Process():
            return theirs.where == mine.where and theirs.pid != mine.pid and not running(theirs.pid)
        case _:
            return False

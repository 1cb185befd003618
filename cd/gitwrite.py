"""Git writes for proposals (promotion, rollback): a commit on a new branch, made with plumbing so the
user's working tree, index and current branch are never touched; and a push to `origin`.
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Mapping
from pathlib import Path

from cd.errors import GitError
from cd.gitrepo import read_file_at_ref, rev_parse, run_git


def _git(repo: Path, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None) -> str:
    return run_git(repo, *args, input=input, env=env).decode().strip()


# Who commits a proposal when git knows nobody (a fresh CI runner): the Actions bot, as GitHub names it.
BOT_NAME = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"


def identity_env(repo: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """GIT_AUTHOR_*/GIT_COMMITTER_* for a commit: what the environment or git config says, else the bot
    (so `commit-tree` never stops on "unable to auto-detect email address")."""
    import os

    env = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for role in ("AUTHOR", "COMMITTER"):
        for key, config, fallback in (("NAME", "user.name", BOT_NAME), ("EMAIL", "user.email", BOT_EMAIL)):
            var = f"GIT_{role}_{key}"
            if env.get(var):
                continue
            try:
                configured = _git(repo, "config", "--get", config)
            except GitError:
                configured = ""
            if not configured:
                out[var] = fallback
    return out


def branch_exists(repo: Path, branch: str) -> bool:
    try:
        rev_parse(repo, f"refs/heads/{branch}")
    except GitError:
        return False
    return True


def read_text_at_ref(repo: Path, ref: str, path: str) -> str:
    data = read_file_at_ref(repo, ref, path)
    if data is None:
        raise GitError(f"{path} does not exist at {ref}")
    return data.decode("utf-8")


def commit_file_on_new_branch(
    repo: Path, *, base: str, branch: str, path: str, content: str, message: str
) -> str:
    """Commit `path` = `content` on top of `base` as the new branch `branch`; returns the commit sha.

    Refuses if the branch exists (a proposal is never silently replaced). Uses a temporary index, so
    the working tree and the real index stay as they were.
    """
    if branch_exists(repo, branch):
        raise GitError(f"branch {branch!r} already exists in {repo}; delete it or merge its PR first")
    parent = rev_parse(repo, base)
    with tempfile.TemporaryDirectory() as tmp:
        index = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        _git(repo, "read-tree", parent, env=index)
        blob = _git(repo, "hash-object", "-w", "--stdin", input=content.encode("utf-8"))
        _git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=index)
        tree = _git(repo, "write-tree", env=index)
    commit = _git(repo, "commit-tree", tree, "-p", parent, "-m", message, env=identity_env(repo))
    _git(repo, "update-ref", f"refs/heads/{branch}", commit, "0" * 40)
    return commit


def remote_url(repo: Path, name: str = "origin") -> str | None:
    try:
        return _git(repo, "remote", "get-url", name) or None
    except GitError:
        return None


def push_branch(repo: Path, branch: str, *, remote: str = "origin", token: str | None = None) -> None:
    """`git push REMOTE BRANCH`; with a token and an https remote, authenticate the way actions/checkout does
    (an Authorization header for this one command; nothing is stored in the repository's config)."""
    args: list[str] = []
    url = remote_url(repo, remote) or ""
    if token and url.startswith("https://"):
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        args += ["-c", f"http.extraheader=AUTHORIZATION: basic {basic}"]
    _git(repo, *args, "push", remote, f"refs/heads/{branch}:refs/heads/{branch}")

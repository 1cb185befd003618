"""Git plumbing: read trees and files at a ref without checking anything out."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from cd.errors import GitError


def run_git(
    repo: Path, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None
) -> bytes:
    """The one git runner: `git ARGS` in `repo`; GitError with git's last line of stderr on failure.

    `env` adds variables (a temporary index, say); credentials passed as `-c http.extraheader=...`
    are never shown in a message.
    """
    full_env = {**os.environ, **env} if env else None
    try:
        done = subprocess.run(
            ["git", *args], cwd=repo, input=input, capture_output=True, env=full_env, check=False
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed or not on PATH") from exc
    except NotADirectoryError as exc:
        raise GitError(f"{repo} is not a directory") from exc
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip().splitlines()
        shown = [a if "extraheader" not in a else "http.extraheader=***" for a in args]
        raise GitError(
            f"git {' '.join(shown)} failed in {repo}: {detail[-1] if detail else 'exit ' + str(done.returncode)}"
        )
    return done.stdout


def current_branch(repo: Path) -> str:
    """The branch HEAD is on; GitError when HEAD is detached."""
    try:
        return run_git(repo, "symbolic-ref", "--quiet", "--short", "HEAD").decode().strip()
    except GitError as exc:
        raise GitError(f"{repo}: HEAD is detached (no current branch); pass --base BRANCH") from exc


def toplevel(path: Path) -> Path:
    """The root of the git work tree containing `path`."""
    return Path(run_git(path, "rev-parse", "--show-toplevel").decode().strip())


def rev_parse(repo: Path, ref: str) -> str:
    """Full commit sha of `ref`; GitError naming the ref when it does not exist."""
    try:
        return run_git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()
    except GitError as exc:
        raise GitError(f"git ref {ref!r} does not name a commit in {repo}") from exc


def list_files(repo: Path, ref: str, dirs: Sequence[str]) -> dict[str, str]:
    """`{path: blob sha}` for every file under `dirs` at `ref`."""
    out = run_git(repo, "ls-tree", "-r", "-z", "--full-tree", rev_parse(repo, ref), "--", *dirs)
    files: dict[str, str] = {}
    for entry in out.split(b"\0"):
        if not entry:
            continue
        meta, path = entry.split(b"\t", 1)
        _mode, kind, sha = meta.split()
        if kind == b"blob":
            files[path.decode()] = sha.decode()
    return files


def read_blobs(repo: Path, shas: Iterable[str]) -> dict[str, bytes]:
    """Contents of many blobs through one `git cat-file --batch` process."""
    wanted = list(dict.fromkeys(shas))
    if not wanted:
        return {}
    raw = run_git(repo, "cat-file", "--batch", input="".join(f"{s}\n" for s in wanted).encode())
    blobs: dict[str, bytes] = {}
    pos = 0
    for sha in wanted:
        header_end = raw.index(b"\n", pos)
        header = raw[pos:header_end].split()
        if len(header) < 3:
            raise GitError(f"git object {sha} is missing")
        size = int(header[2])
        blobs[sha] = raw[header_end + 1 : header_end + 1 + size]
        pos = header_end + 1 + size + 1
    return blobs


def read_tree(repo: Path, ref: str, dirs: Sequence[str]) -> dict[str, bytes]:
    """`{path: contents}` for every file under `dirs` at `ref`."""
    files = list_files(repo, ref, dirs)
    blobs = read_blobs(repo, files.values())
    return {path: blobs[sha] for path, sha in files.items()}


def read_file_at_ref(repo: Path, ref: str, path: str) -> bytes | None:
    """One file's contents at `ref`, or None when it does not exist there."""
    files = list_files(repo, ref, [path])
    sha = files.get(path)
    return None if sha is None else read_blobs(repo, [sha])[sha]


def changed_files(repo: Path, base: str, head: str) -> list[str]:
    """Paths that differ between two refs (added, modified, deleted or renamed)."""
    out = run_git(
        repo, "diff", "--name-only", "-z", "--no-renames", rev_parse(repo, base), rev_parse(repo, head)
    )
    return sorted(p.decode() for p in out.split(b"\0") if p)


def uncommitted(repo: Path, paths: Sequence[str]) -> list[str]:
    """Files under `paths` whose working-tree state differs from HEAD (modified, added, untracked)."""
    out = run_git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *paths)
    return sorted(entry[3:].decode() for entry in out.split(b"\0") if len(entry) > 3)

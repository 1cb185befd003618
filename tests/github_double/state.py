"""In-memory state of the GitHub API double: repositories and everything that hangs off them."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fake_sha(*parts: object) -> str:
    return hashlib.sha1("\0".join(str(p) for p in parts).encode()).hexdigest()


def blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class User:
    login: str
    id: int
    type: str = "User"


@dataclass
class Asset:
    id: int
    release_id: int
    name: str
    label: str | None
    content_type: str
    data: bytes
    state: str  # "uploaded" or "open" (an interrupted upload)
    uploader: str
    created_at: str
    updated_at: str

    @property
    def digest(self) -> str | None:
        return "sha256:" + hashlib.sha256(self.data).hexdigest() if self.state == "uploaded" else None


@dataclass
class Release:
    id: int
    tag_name: str
    target_commitish: str
    name: str | None
    body: str | None
    draft: bool
    prerelease: bool
    author: str
    created_at: str
    published_at: str | None
    make_latest: str = "true"


@dataclass
class Pull:
    number: int
    title: str
    body: str | None
    user: str
    head_ref: str
    head_sha: str
    base_ref: str
    base_sha: str
    state: str = "open"
    draft: bool = False
    merged: bool = False
    merge_commit_sha: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)


@dataclass
class Review:
    id: int
    user: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING
    commit_id: str
    body: str
    submitted_at: str


@dataclass
class Issue:
    number: int
    title: str
    body: str | None
    user: str
    state: str = "open"
    state_reason: str | None = None
    labels: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    closed_at: str | None = None


@dataclass
class Comment:
    id: int
    issue_number: int
    user: str
    body: str
    created_at: str
    updated_at: str


@dataclass
class Status:
    id: int
    sha: str
    state: str
    context: str
    description: str | None
    target_url: str | None
    creator: str
    created_at: str
    updated_at: str


@dataclass
class CheckRun:
    id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    output: dict[str, Any]
    details_url: str | None
    external_id: str | None
    started_at: str
    completed_at: str | None


@dataclass
class DeploymentStatus:
    id: int
    state: str
    description: str
    environment: str
    environment_url: str
    log_url: str
    creator: str
    created_at: str
    updated_at: str


@dataclass
class Deployment:
    id: int
    ref: str
    sha: str
    task: str
    environment: str
    description: str | None
    payload: Any
    creator: str
    transient_environment: bool
    production_environment: bool
    created_at: str
    updated_at: str
    statuses: list[DeploymentStatus] = field(default_factory=list)


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    default_branch: str
    private: bool = True
    refs: dict[str, str] = field(default_factory=dict)  # "heads/main" -> sha
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)  # branch -> path -> bytes
    commit_messages: dict[str, str] = field(default_factory=dict)  # sha -> message
    pulls: dict[int, Pull] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    reviews: dict[int, list[Review]] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    statuses: list[Status] = field(default_factory=list)
    check_runs: dict[int, CheckRun] = field(default_factory=dict)
    releases: dict[int, Release] = field(default_factory=dict)
    assets: dict[int, Asset] = field(default_factory=dict)
    deployments: dict[int, Deployment] = field(default_factory=dict)
    collaborators: dict[str, str] = field(default_factory=dict)  # login -> admin/maintain/write/triage/read
    numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def resolve(self, ref: str) -> str | None:
        """A commit sha for REF: a branch name, heads/..., refs/heads/..., a tag or a known sha."""
        for candidate in (ref, f"heads/{ref}", f"tags/{ref}", ref.removeprefix("refs/")):
            if candidate in self.refs:
                return self.refs[candidate]
        known = (
            set(self.refs.values()) | set(self.commit_messages) | {p.head_sha for p in self.pulls.values()}
        )
        if len(ref) == 40 and all(c in "0123456789abcdef" for c in ref):
            return ref if ref in known else None
        return None

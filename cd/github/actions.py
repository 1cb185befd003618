"""The GitHub Actions runtime, as a step sees it: the event payload, step outputs, the job summary and
workflow-command annotations.

Everything reads the environment given (default `os.environ`), so tests simulate a runner faithfully
with temp files. Outside Actions (no `GITHUB_OUTPUT` / `GITHUB_STEP_SUMMARY`) writes are skipped and
the functions say so by returning False.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cd.errors import UsageError

Env = Mapping[str, str]


def _env(env: Env | None) -> Env:
    return os.environ if env is None else env


def in_actions(env: Env | None = None) -> bool:
    return _env(env).get("GITHUB_ACTIONS") == "true"


# ---------------------------------------------------------------- the event payload


@dataclass(frozen=True)
class PullRequestEvent:
    action: str
    number: int
    title: str
    author: str
    head_sha: str
    head_ref: str
    head_repo: str | None  # "owner/name"; None when the fork was deleted
    base_sha: str
    base_ref: str
    base_repo: str
    html_url: str = ""

    @property
    def is_fork(self) -> bool:
        return self.head_repo != self.base_repo


@dataclass(frozen=True)
class PushEvent:
    ref: str
    before: str
    after: str
    repository: str
    pusher: str = ""

    @property
    def branch(self) -> str | None:
        prefix = "refs/heads/"
        return self.ref[len(prefix) :] if self.ref.startswith(prefix) else None

    @property
    def is_first_push(self) -> bool:
        return set(self.before) == {"0"}


@dataclass(frozen=True)
class IssueCommentEvent:
    action: str
    issue_number: int
    is_pull_request: bool
    comment_id: int
    body: str
    commenter: str
    author_association: str
    repository: str
    html_url: str = ""


@dataclass(frozen=True)
class WorkflowDispatchEvent:
    ref: str
    repository: str
    inputs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GitHubEvent:
    """The raw payload of `GITHUB_EVENT_PATH` with typed views per event kind."""

    name: str  # GITHUB_EVENT_NAME
    payload: Mapping[str, Any]

    def _require(self, *names: str) -> None:
        if self.name not in names:
            raise UsageError(
                f"this command needs a {' or '.join(names)} event, but GITHUB_EVENT_NAME is {self.name!r}"
            )

    def _get(self, *path: str) -> Any:
        node: Any = self.payload
        for key in path:
            if not isinstance(node, Mapping) or key not in node:
                raise UsageError(f"event payload ({self.name}) has no field {'.'.join(path)!r}")
            node = node[key]
        return node

    def pull_request(self) -> PullRequestEvent:
        self._require("pull_request", "pull_request_target", "pull_request_review")
        head_repo = self.payload.get("pull_request", {}).get("head", {}).get("repo")
        return PullRequestEvent(
            action=str(self.payload.get("action", "")),
            number=int(self._get("pull_request", "number")),
            title=str(self._get("pull_request", "title")),
            author=str(self._get("pull_request", "user", "login")),
            head_sha=str(self._get("pull_request", "head", "sha")),
            head_ref=str(self._get("pull_request", "head", "ref")),
            head_repo=str(head_repo["full_name"]) if isinstance(head_repo, Mapping) else None,
            base_sha=str(self._get("pull_request", "base", "sha")),
            base_ref=str(self._get("pull_request", "base", "ref")),
            base_repo=str(self._get("pull_request", "base", "repo", "full_name")),
            html_url=str(self.payload["pull_request"].get("html_url", "")),
        )

    def push(self) -> PushEvent:
        self._require("push")
        pusher = self.payload.get("pusher") or {}
        return PushEvent(
            ref=str(self._get("ref")),
            before=str(self._get("before")),
            after=str(self._get("after")),
            repository=str(self._get("repository", "full_name")),
            pusher=str(pusher.get("name", "")),
        )

    def issue_comment(self) -> IssueCommentEvent:
        self._require("issue_comment")
        issue = self._get("issue")
        return IssueCommentEvent(
            action=str(self.payload.get("action", "")),
            issue_number=int(self._get("issue", "number")),
            is_pull_request=bool(issue.get("pull_request")),
            comment_id=int(self._get("comment", "id")),
            body=str(self._get("comment", "body") or ""),
            commenter=str(self._get("comment", "user", "login")),
            author_association=str(self.payload["comment"].get("author_association", "NONE")),
            repository=str(self._get("repository", "full_name")),
            html_url=str(self.payload["comment"].get("html_url", "")),
        )

    def workflow_dispatch(self) -> WorkflowDispatchEvent:
        self._require("workflow_dispatch")
        inputs = self.payload.get("inputs") or {}
        return WorkflowDispatchEvent(
            ref=str(self._get("ref")),
            repository=str(self._get("repository", "full_name")),
            inputs={str(k): "" if v is None else str(v) for k, v in inputs.items()},
        )


def read_event(env: Env | None = None) -> GitHubEvent:
    """The event of this workflow run: `GITHUB_EVENT_NAME` and the JSON at `GITHUB_EVENT_PATH`."""
    environ = _env(env)
    name = environ.get("GITHUB_EVENT_NAME")
    path = environ.get("GITHUB_EVENT_PATH")
    if not name or not path:
        raise UsageError(
            "not inside a GitHub Actions run: GITHUB_EVENT_NAME and GITHUB_EVENT_PATH must be set"
        )
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read the event payload GITHUB_EVENT_PATH={path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}: the event payload is not valid JSON: {exc.msg}") from exc
    if not isinstance(payload, dict):
        raise UsageError(f"{path}: the event payload is not a JSON object")
    return GitHubEvent(name=name, payload=payload)


_QUEUE_REF = re.compile(r"^refs/heads/gh-readonly-queue/[^ ]+/pr-(?P<number>\d+)-[0-9a-f]+$")


def merge_group_pull(env: Env | None = None) -> tuple[int, str]:
    """(pull request number, merge group head sha) of this run's `merge_group` event. The queue's
    branch is `gh-readonly-queue/<base>/pr-<number>-<sha>`; a group of several PRs is named after its
    last one, whose head includes the others' changes."""
    event = read_event(env)
    if event.name != "merge_group":
        raise UsageError(
            f"say which pull request with --pr: this run's event is {event.name}, not merge_group"
        )
    group = event.payload.get("merge_group") or {}
    ref, sha = str(group.get("head_ref", "")), str(group.get("head_sha", ""))
    match = _QUEUE_REF.match(ref)
    if match is None or not sha:
        raise UsageError(
            f"merge_group event: head_ref {ref!r} is not a merge queue branch (gh-readonly-queue/...)"
        )
    return int(match["number"]), sha


def is_fork_pr(event: GitHubEvent) -> bool:
    """True for a pull_request-family event whose head lives in another repository (its token is read-only)."""
    if event.name not in ("pull_request", "pull_request_review"):
        return False
    return event.pull_request().is_fork


def run_url(env: Env | None = None) -> str | None:
    """Link to this workflow run, when inside Actions."""
    environ = _env(env)
    server, repo, run_id = (
        environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    if not (server and repo and run_id):
        return None
    return f"{server}/{repo}/actions/runs/{run_id}"


# ---------------------------------------------------------------- outputs and summary


def format_output(name: str, value: str, delimiter: str | None = None) -> str:
    """`name<<DELIM\\nvalue\\nDELIM\\n`: safe for any value (multi-line, `=` signs); the delimiter is random."""
    if not name or any(c in name for c in "\r\n=<"):
        raise UsageError(f"invalid step output name {name!r}")
    delim = delimiter or f"ghadelimiter_{uuid.uuid4()}"
    if delim in value:  # cannot happen with a random delimiter; refuse rather than corrupt the file
        raise UsageError(f"step output {name!r} contains its delimiter")
    return f"{name}<<{delim}\n{value}\n{delim}\n"


def _append(path: str, text: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)


def set_output(name: str, value: str, env: Env | None = None) -> bool:
    """Append a step output to `$GITHUB_OUTPUT`. False (nothing written) outside Actions."""
    path = _env(env).get("GITHUB_OUTPUT")
    if not path:
        return False
    _append(path, format_output(name, value))
    return True


def append_summary(markdown: str, env: Env | None = None) -> bool:
    """Append markdown to the job summary (`$GITHUB_STEP_SUMMARY`). False outside Actions."""
    path = _env(env).get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    _append(path, markdown if markdown.endswith("\n") else markdown + "\n")
    return True


# ---------------------------------------------------------------- annotations (workflow commands)

Level = Literal["error", "warning", "notice"]


def escape_data(text: str) -> str:
    """Escape a workflow-command message (as the Actions toolkit does)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow-command property value: also `:` and `,`, which separate properties."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(
    level: Level,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    end_line: int | None = None,
    col: int | None = None,
    title: str | None = None,
) -> str:
    """`::error file=..,line=..,title=..::message`, every part escaped."""
    props = {"file": file, "line": line, "endLine": end_line, "col": col, "title": title}
    rendered = ",".join(f"{k}={escape_property(str(v))}" for k, v in props.items() if v is not None)
    return f"::{level}{' ' + rendered if rendered else ''}::{escape_data(message)}"

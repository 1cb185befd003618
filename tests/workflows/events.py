"""Real-shaped GitHub webhook payloads (trimmed to the documented fields modelcd and Actions use) and a
simulated runner environment: GITHUB_EVENT_PATH, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_PATH."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = "acme/models"
API_REPO = {
    "id": 101,
    "name": "models",
    "full_name": REPO,
    "private": True,
    "fork": False,
    "owner": {"login": "acme", "id": 1, "type": "Organization"},
    "default_branch": "main",
    "html_url": f"https://github.com/{REPO}",
}


def _user(login: str, uid: int = 7) -> dict[str, Any]:
    return {"login": login, "id": uid, "type": "User", "html_url": f"https://github.com/{login}"}


def _repo(full_name: str) -> dict[str, Any]:
    owner, name = full_name.split("/")
    return {
        **API_REPO,
        "name": name,
        "full_name": full_name,
        "fork": full_name != REPO,
        "owner": {"login": owner, "id": 2, "type": "User"},
    }


def pull_request_event(
    *,
    number: int = 42,
    author: str = "dana",
    head_sha: str = "a" * 40,
    base_sha: str = "b" * 40,
    head_ref: str = "bump-churn",
    head_repo: str | None = REPO,
    title: str = "Bump churn to v2",
    action: str = "synchronize",
) -> dict[str, Any]:
    pr = {
        "url": f"https://api.github.com/repos/{REPO}/pulls/{number}",
        "id": 9000 + number,
        "number": number,
        "state": "open",
        "title": title,
        "user": _user(author),
        "body": None,
        "draft": False,
        "html_url": f"https://github.com/{REPO}/pull/{number}",
        "head": {
            "label": f"x:{head_ref}",
            "ref": head_ref,
            "sha": head_sha,
            "user": _user(author),
            "repo": _repo(head_repo) if head_repo else None,
        },
        "base": {
            "label": "acme:main",
            "ref": "main",
            "sha": base_sha,
            "user": _user("acme", 1),
            "repo": API_REPO,
        },
        "merged": False,
        "mergeable": None,
    }
    return {
        "action": action,
        "number": number,
        "pull_request": pr,
        "repository": API_REPO,
        "sender": _user(author),
    }


def push_event(
    *, before: str = "c" * 40, after: str = "d" * 40, ref: str = "refs/heads/main"
) -> dict[str, Any]:
    return {
        "ref": ref,
        "before": before,
        "after": after,
        "created": False,
        "deleted": False,
        "forced": False,
        "base_ref": None,
        "compare": f"https://github.com/{REPO}/compare/{before[:12]}...{after[:12]}",
        "commits": [],
        "head_commit": None,
        "repository": API_REPO,
        "pusher": {"name": "dana", "email": "dana@example.com"},
        "sender": _user("dana"),
    }


def issue_comment_event(
    *,
    body: str,
    commenter: str = "lee",
    number: int = 42,
    on_pull_request: bool = True,
    comment_id: int = 555,
    association: str = "MEMBER",
) -> dict[str, Any]:
    issue: dict[str, Any] = {
        "url": f"https://api.github.com/repos/{REPO}/issues/{number}",
        "number": number,
        "title": "Bump churn to v2",
        "user": _user("dana"),
        "state": "open",
        "html_url": f"https://github.com/{REPO}/pull/{number}",
        "body": None,
    }
    if on_pull_request:
        issue["pull_request"] = {
            "url": f"https://api.github.com/repos/{REPO}/pulls/{number}",
            "html_url": f"https://github.com/{REPO}/pull/{number}",
        }
    comment = {
        "id": comment_id,
        "body": body,
        "user": _user(commenter, 8),
        "author_association": association,
        "html_url": f"https://github.com/{REPO}/pull/{number}#issuecomment-{comment_id}",
        "created_at": "2026-11-21T10:00:00Z",
        "updated_at": "2026-11-21T10:00:00Z",
    }
    return {
        "action": "created",
        "issue": issue,
        "comment": comment,
        "repository": API_REPO,
        "sender": _user(commenter),
    }


def merge_group_event(*, number: int, head_sha: str, base_sha: str, base: str = "main") -> dict[str, Any]:
    """What GitHub sends when the merge queue builds the group of PR `number`: its branch names the PR."""
    return {
        "action": "checks_requested",
        "merge_group": {
            "head_sha": head_sha,
            "head_ref": f"refs/heads/gh-readonly-queue/{base}/pr-{number}-{base_sha}",
            "base_sha": base_sha,
            "base_ref": f"refs/heads/{base}",
            "head_commit": {"id": head_sha, "message": f"Merge pull request #{number}"},
        },
        "repository": API_REPO,
        "sender": _user("github-merge-queue[bot]", 9),
    }


def workflow_dispatch_event(inputs: dict[str, str], ref: str = "refs/heads/main") -> dict[str, Any]:
    return {
        "inputs": inputs,
        "ref": ref,
        "repository": API_REPO,
        "sender": _user("dana"),
        "workflow": ".github/workflows/promote.yml",
    }


@dataclass
class Runner:
    """A simulated Actions runner: the files and variables a step sees."""

    root: Path
    event_name: str
    payload: dict[str, Any]

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.event_path.write_text(json.dumps(self.payload))
        for p in (self.output_path, self.summary_path, self.path_file, self.env_file):
            p.write_text("")

    event_path = property(lambda self: self.root / "event.json")
    output_path = property(lambda self: self.root / "output")
    summary_path = property(lambda self: self.root / "summary.md")
    path_file = property(lambda self: self.root / "path")
    env_file = property(lambda self: self.root / "env")

    def env(self, sha: str = "d" * 40) -> dict[str, str]:
        return {
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": self.event_name,
            "GITHUB_EVENT_PATH": str(self.event_path),
            "GITHUB_OUTPUT": str(self.output_path),
            "GITHUB_STEP_SUMMARY": str(self.summary_path),
            "GITHUB_PATH": str(self.path_file),
            "GITHUB_ENV": str(self.env_file),
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_SHA": sha,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_RUN_ID": "123456",
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_WORKSPACE": str(self.root),
            "RUNNER_TEMP": str(self.root),
        }

    def outputs(self) -> dict[str, str]:
        """Parse `$GITHUB_OUTPUT` exactly as the runner does (`k=v` and `k<<DELIM` blocks)."""
        return parse_output_file(self.output_path.read_text())

    def summary(self) -> str:
        return self.summary_path.read_text()


def parse_output_file(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        heredoc = re.fullmatch(r"([^=<]+)<<(.+)", line)
        if heredoc:
            name, delim = heredoc.groups()
            chunk: list[str] = []
            while lines[i] != delim:
                chunk.append(lines[i])
                i += 1
            i += 1
            out[name] = "\n".join(chunk)
        else:
            name, _, value = line.partition("=")
            out[name] = value
    return out

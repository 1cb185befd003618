"""One GitHub issue per tracked problem (an environment drifted from git, a model whose live inputs
drifted): opened when it appears, updated while it lasts, closed when it is resolved. Found again by a
hidden marker in its body, under one label per kind."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cd.github.api import GitHubClient, IssueInfo

IssueAction = Literal["open", "update", "close", "unchanged", "none"]
CHECKED = "\nLast checked"


@dataclass(frozen=True)
class Tracked:
    """A problem as checked now: `active` while it lasts; `body` explains it, `resolved` says it ended."""

    kind: str  # the marker's name and, prefixed with `modelcd-`, the label
    key: str  # e.g. "env=staging" or "env=staging model=churn"
    title: str
    body: str
    resolved: str
    active: bool

    @property
    def marker(self) -> str:
        return f"<!-- modelcd:{self.kind} {self.key} -->"

    @property
    def label(self) -> str:
        return f"modelcd-{self.kind}"


@dataclass(frozen=True)
class IssuePlan:
    key: str
    action: IssueAction
    issue: IssueInfo | None
    body: str
    title: str = ""


def _body(item: Tracked, text: str, run_url: str | None) -> str:
    checked = f"{CHECKED} by [this run]({run_url}).\n" if run_url else ""
    return f"{item.marker}\n{text.rstrip()}\n{checked}"


def plan_issues(
    items: Sequence[Tracked], open_issues: Sequence[IssueInfo], run_url: str | None
) -> list[IssuePlan]:
    """What to do per tracked item. Pure: compares the items with the open issues."""
    plans = []
    for item in items:
        issue = next((i for i in open_issues if item.marker in i.body), None)
        body = _body(item, item.body, run_url)
        if item.active:
            if issue is None:
                plans.append(IssuePlan(item.key, "open", None, body, item.title))
            else:
                same = issue.body.split(CHECKED)[0] == body.split(CHECKED)[0]
                plans.append(IssuePlan(item.key, "unchanged" if same else "update", issue, body, item.title))
        elif issue is not None:
            plans.append(IssuePlan(item.key, "close", issue, _body(item, item.resolved, run_url), item.title))
        else:
            plans.append(IssuePlan(item.key, "none", None, "", item.title))
    return plans


def sync_issues(
    client: GitHubClient, kind: str, items: Sequence[Tracked], run_url: str | None = None
) -> list[tuple[IssuePlan, IssueInfo | None]]:
    """Apply `plan_issues` through the API; returns each plan with the issue it touched."""
    label = f"modelcd-{kind}"
    open_issues = client.issues(state="open", labels=(label,))
    done: list[tuple[IssuePlan, IssueInfo | None]] = []
    for plan in plan_issues(items, open_issues, run_url):
        if plan.action == "open":
            done.append((plan, client.create_issue(plan.title, plan.body, (label,))))
        elif plan.action == "update" and plan.issue is not None:
            done.append((plan, client.update_issue(plan.issue.number, body=plan.body)))
        elif plan.action == "close" and plan.issue is not None:
            done.append((plan, client.update_issue(plan.issue.number, body=plan.body, state="closed")))
        else:
            done.append((plan, plan.issue))
    return done

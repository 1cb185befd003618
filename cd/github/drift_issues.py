"""One GitHub issue per drifted environment: opened, updated while drift lasts, closed when resolved."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cd.drift import EnvironmentDrift, render_drift
from cd.github.api import GitHubClient, IssueInfo

LABEL = "modelcd-drift"
IssueAction = Literal["open", "update", "close", "unchanged", "none"]


def marker(env: str) -> str:
    return f"<!-- modelcd:drift env={env} -->"


def issue_title(env: str) -> str:
    return f"modelcd: {env} has drifted from git"


def issue_body(drift: EnvironmentDrift, run_url: str | None) -> str:
    lines = [
        marker(drift.env),
        render_drift(drift),
        "The endpoints no longer match `environments/" + drift.env + ".yaml`. Either make them match again "
        "(`modelcd deploy --env " + drift.env + "`) or open a PR that sets git to what is live "
        "(`modelcd rollback --env " + drift.env + " --model NAME`).",
    ]
    if run_url:
        lines.append(f"\nLast checked by [this run]({run_url}).")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class IssuePlan:
    env: str
    action: IssueAction
    issue: IssueInfo | None
    body: str


def find_issue(open_issues: Sequence[IssueInfo], env: str) -> IssueInfo | None:
    return next((i for i in open_issues if marker(env) in i.body), None)


def plan_issues(
    drifts: Sequence[EnvironmentDrift], open_issues: Sequence[IssueInfo], run_url: str | None
) -> list[IssuePlan]:
    """What to do per environment. Pure: compares drift with the open drift issues."""
    plans = []
    for drift in drifts:
        issue = find_issue(open_issues, drift.env)
        body = issue_body(drift, run_url)
        if drift.drifted:
            if issue is None:
                plans.append(IssuePlan(drift.env, "open", None, body))
            else:
                same = issue.body.split("\nLast checked")[0] == body.split("\nLast checked")[0]
                plans.append(IssuePlan(drift.env, "unchanged" if same else "update", issue, body))
        elif issue is not None:
            resolved = (
                f"{marker(drift.env)}\nResolved: **{drift.env}** matches git again.\n\n" + render_drift(drift)
            )
            plans.append(IssuePlan(drift.env, "close", issue, resolved))
        else:
            plans.append(IssuePlan(drift.env, "none", None, ""))
    return plans


def sync_drift_issues(
    client: GitHubClient, drifts: Sequence[EnvironmentDrift], run_url: str | None = None
) -> list[tuple[IssuePlan, IssueInfo | None]]:
    """Apply `plan_issues` through the API; returns each plan with the issue it touched."""
    open_issues = client.issues(state="open", labels=(LABEL,))
    done: list[tuple[IssuePlan, IssueInfo | None]] = []
    for plan in plan_issues(drifts, open_issues, run_url):
        if plan.action == "open":
            done.append((plan, client.create_issue(issue_title(plan.env), plan.body, (LABEL,))))
        elif plan.action == "update" and plan.issue is not None:
            done.append((plan, client.update_issue(plan.issue.number, body=plan.body)))
        elif plan.action == "close" and plan.issue is not None:
            done.append((plan, client.update_issue(plan.issue.number, body=plan.body, state="closed")))
        else:
            done.append((plan, plan.issue))
    return done

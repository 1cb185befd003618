"""One GitHub issue per (environment, model) whose live traffic drifted; closed once it no longer does.
"Not enough data" leaves an open issue as it is: it neither confirms nor clears the drift."""

from __future__ import annotations

from collections.abc import Sequence

from cd.github.api import GitHubClient, IssueInfo
from cd.github.tracked_issues import IssuePlan, Tracked, sync_issues
from cd.monitor.render import render_markdown
from cd.monitor.run import MonitorReport

KIND = "data-drift"


def tracked(report: MonitorReport) -> Tracked | None:
    if report.outcome == "not_enough_data":
        return None
    env, model = report.environment, report.model
    return Tracked(
        kind=KIND,
        key=f"env={env} model={model}",
        title=f"modelcd: live inputs of {model} in {env} have drifted",
        body=render_markdown(report)
        + f"\nRetrain on recent data, or check the feature pipeline upstream of `{report.endpoint}`. "
        + "This issue closes itself when a monitor run finds the traffic back in line.\n",
        resolved=f"Resolved: the live traffic of **{model}** in **{env}** matches its reference again.\n\n"
        + render_markdown(report),
        active=report.outcome == "drift",
    )


def sync_monitor_issues(
    client: GitHubClient, reports: Sequence[MonitorReport], run_url: str | None = None
) -> list[tuple[IssuePlan, IssueInfo | None]]:
    items = [t for r in reports if (t := tracked(r)) is not None]
    return sync_issues(client, KIND, items, run_url)

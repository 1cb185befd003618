"""One GitHub issue per drifted environment: opened, updated while drift lasts, closed when resolved."""

from __future__ import annotations

from collections.abc import Sequence

from cd.drift import EnvironmentDrift, render_drift
from cd.github.api import GitHubClient, IssueInfo
from cd.github.tracked_issues import IssuePlan, Tracked, sync_issues

KIND = "drift"
LABEL = f"modelcd-{KIND}"


def tracked(drift: EnvironmentDrift) -> Tracked:
    env = drift.env
    return Tracked(
        kind=KIND,
        key=f"env={env}",
        title=f"modelcd: {env} has drifted from git",
        body=render_drift(drift)
        + "\nThe endpoints no longer match `environments/"
        + env
        + ".yaml`. Either make them match again (`modelcd deploy --env "
        + env
        + "`) or open a PR that sets git to what is live (`modelcd rollback --env "
        + env
        + " --model NAME`).\n",
        resolved=f"Resolved: **{env}** matches git again.\n\n" + render_drift(drift),
        active=drift.drifted,
    )


def sync_drift_issues(
    client: GitHubClient, drifts: Sequence[EnvironmentDrift], run_url: str | None = None
) -> list[tuple[IssuePlan, IssueInfo | None]]:
    return sync_issues(client, KIND, [tracked(d) for d in drifts], run_url)

"""`modelcd release`: publish the release of one model version (GitHub or a local folder)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cd.errors import UsageError

if TYPE_CHECKING:
    from cd.github.api import GitHubClient
    from cd.release.publisher import Publisher
    from cd.release.pull_evidence import PullEvidence

PATH = click.Path(dir_okay=False, path_type=Path)


@click.command()
@click.option("--model", required=True, help="Model directory name under models/.")
@click.option("--version", "version", required=True, type=click.IntRange(min=1), help="Registry version.")
@click.option("--env", "environment", help="Environment reached; adds a deployment-history entry.")
@click.option(
    "--publisher",
    type=click.Choice(["github", "local"]),
    help="Where to publish (default: github inside GitHub Actions, else local releases/<tag>/).",
)
@click.option("--bento", type=PATH, help="Exported .bento archive (default: from the build record).")
@click.option("--verdict", type=PATH, help="Gate verdict JSON.")
@click.option("--report", type=PATH, help="Gate report (markdown or HTML).")
@click.option("--build-record", type=PATH, help="Build record JSON from `modelcd build`.")
@click.option("--target", help="Commit to tag (default: $GITHUB_SHA, else HEAD).")
@click.option("--base", help="Commit before the promotion, for the plan entry (e.g. the push's `before`).")
@click.option(
    "--pr",
    "pull",
    metavar="N|auto",
    help="Pull request whose approvals and gate override go in the notes; `auto`: the merged one whose "
    "merge commit is the target.",
)
@click.option("--registry/--no-registry", default=True, help="Read run params/metrics/sha256 from MLflow.")
@click.option("--repo", "repo", type=click.Path(file_okay=False, path_type=Path), help="Repository root.")
@click.option(
    "--releases-dir", type=click.Path(file_okay=False, path_type=Path), help="Local publisher root."
)
def release(
    model: str,
    version: int,
    environment: str | None,
    publisher: str | None,
    bento: Path | None,
    verdict: Path | None,
    report: Path | None,
    build_record: Path | None,
    target: str | None,
    base: str | None,
    pull: str | None,
    registry: bool,
    repo: Path | None,
    releases_dir: Path | None,
) -> None:
    """Publish (or update) the release `<model>-v<N>` with notes and assets; safe to run again."""
    from cd.gitrepo import rev_parse, toplevel
    from cd.registry import default_tracking_uri
    from cd.release.inputs import ReleaseRequest, gather_inputs
    from cd.release.release import publish_release

    root = (repo or toplevel(Path.cwd())).resolve()
    kind = publisher or ("github" if os.environ.get("GITHUB_ACTIONS") == "true" else "local")
    commit = target or os.environ.get("GITHUB_SHA") or rev_parse(root, "HEAD")
    request = ReleaseRequest(
        root=root,
        model=model,
        version=version,
        target=commit,
        environment=environment,
        bento=bento,
        verdict=verdict,
        report=report,
        build_record=build_record,
        base=base,
        registry_uri=default_tracking_uri(root) if registry else None,
    )
    number = _pull_number(pull)
    client = None
    if kind == "github" or pull is not None:
        from cd.github.api import GitHubClient

        client = GitHubClient.from_env()
    evidence = None
    if pull is not None and client is not None:
        evidence = _pull_evidence(client, number, commit, model, environment, verdict)
    inputs = gather_inputs(
        request,
        evidence.approvals if evidence else (),
        evidence.number if evidence else None,
        asdict(evidence.override.override) if evidence and evidence.override else None,
    )

    if kind == "github":
        from cd.release.github_publisher import GitHubPublisher

        assert client is not None
        chosen: Publisher = GitHubPublisher(client)
    else:
        from cd.release.local_publisher import LocalPublisher

        chosen = LocalPublisher(releases_dir or root / "releases")
    with tempfile.TemporaryDirectory(prefix="modelcd-release-") as tmp:
        result = publish_release(inputs, chosen, Path(tmp))
    click.echo(f"release {result.tag}: {'created' if result.created else 'updated'} {result.url}")
    for action in result.actions:
        click.echo(f"  {action.describe()}")
    for entry in result.history:
        click.echo(f"  deployed to {entry.environment} at {entry.deployed_at} ({entry.commit[:12]})")


def _pull_number(pull: str | None) -> int | None:
    """`--pr`: a positive number, or `auto` (None here: look it up from the target commit)."""
    if pull is None or pull == "auto":
        return None
    if not pull.isdigit() or int(pull) < 1:
        raise UsageError(f"--pr {pull!r}: give a pull request number or `auto`")
    return int(pull)


def _pull_evidence(
    client: GitHubClient,
    number: int | None,
    commit: str,
    model: str,
    environment: str | None,
    verdict: Path | None,
) -> PullEvidence | None:
    """The PR's approvals and gate override; the override is also written into the verdict file."""
    from cd.github.override_flow import record_override
    from cd.release.pull_evidence import gather_pull_evidence

    evidence = gather_pull_evidence(client, number, commit, model, environment)
    if evidence is None:
        click.echo(f"no merged pull request has {commit[:12]} as its merge commit: no approvals in the notes")
    elif evidence.override is not None:
        found = evidence.override
        click.echo(
            f"gate {model}@{found.environment} was overridden by @{found.override.by} on #{evidence.number}"
        )
        if verdict is not None and record_override(verdict, [(model, found.environment)], found.override):
            click.echo(f"  recorded in {verdict}")
    return evidence

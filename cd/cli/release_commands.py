"""`modelcd release`: publish the release of one model version (GitHub or a local folder)."""

from __future__ import annotations

from pathlib import Path

import click

from cd.cli.options import repo_option, workspace

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
@repo_option
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
    from cd.release.release import ReleaseArgs, release_version

    args = ReleaseArgs(
        model,
        version,
        environment,
        publisher,  # type: ignore[arg-type]
        bento,
        verdict,
        report,
        build_record,
        target,
        base,
        pull,
        registry,
        releases_dir,
    )
    result = release_version(workspace(repo), args)
    click.echo(f"release {result.tag}: {'created' if result.created else 'updated'} {result.url}")
    for action in result.actions:
        click.echo(f"  {action.describe()}")
    for entry in result.history:
        click.echo(f"  deployed to {entry.environment} at {entry.deployed_at} ({entry.commit[:12]})")

"""`modelcd build`: a registry model version -> an exported, SageMaker-ready Bento and its build record."""

from __future__ import annotations

from pathlib import Path

import click

from cd.cli.options import repo_option, workspace


@click.command()
@click.option("--model", "model", required=True, help="Model name (models/<name>/model.yaml).")
@click.option(
    "--version", "version", required=True, type=click.IntRange(min=1), help="Registered model version."
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False),
    default=None,
    help="Output directory [default: <repo>/dist].",
)
@repo_option
@click.option(
    "--env", "env_name", default=None, help="Take the image repository from this environment's target."
)
@click.option("--image-repository", default=None, help="ECR repository URI for the image (overrides --env).")
@click.option(
    "--containerize", is_flag=True, help="Build the image with `bentoml containerize` (needs Docker)."
)
@click.option(
    "--push", is_flag=True, help="Log in to ECR, push the image and record its digest (needs --containerize)."
)
@click.option(
    "--lock/--no-lock",
    "lock",
    default=None,
    help="Lock Python packages against the index [default: only in CI, or $MODELCD_LOCK_PACKAGES].",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1),
    default=None,
    help="Request-body limit of the service [6 MiB].",
)
@click.option(
    "--smoke-test/--no-smoke-test",
    default=True,
    show_default=True,
    help="Start the Bento in its own environment and send it the model's input example before recording it.",
)
@click.option(
    "--reuse-release",
    is_flag=True,
    help="When the version is already released, take the release's build record and Bento (verified "
    "against its SHA256SUMS) instead of building again: later environments deploy the same image.",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def build(
    model: str,
    version: int,
    out: str | None,
    repo: Path | None,
    env_name: str | None,
    image_repository: str | None,
    containerize: bool,
    push: bool,
    lock: bool | None,
    max_body_bytes: int | None,
    smoke_test: bool,
    reuse_release: bool,
    fmt: str,
) -> None:
    """Build, export and record a Bento for MODEL version VERSION (and its image, where Docker runs)."""
    from cd.package.build import BuildArgs, build_model
    from cd.package.context import DEFAULT_MAX_BODY_BYTES

    args = BuildArgs(
        model,
        version,
        Path(out).resolve() if out else None,
        env_name,
        image_repository,
        containerize,
        push,
        lock,
        max_body_bytes or DEFAULT_MAX_BODY_BYTES,
        smoke_test,
        reuse_release,
    )
    notes_to_stderr = fmt == "json"  # stdout is the record alone then
    ws = workspace(repo, say=lambda note: click.echo(note, err=notes_to_stderr))
    record, where = build_model(ws, args)
    if fmt == "json":
        click.echo(record.to_json(), nl=False)
        return
    click.echo(f"bento    {record.bento_tag}")
    click.echo(f"archive  {where / record.bento_archive}  sha256 {record.bento_sha256}")
    click.echo(f"record   {where / f'{record.model}-v{record.version}.build.json'}")
    click.echo(f"model    {record.registered_model} v{record.version}  sha256 {record.model_sha256}")
    click.echo(f"locked   {'yes' if record.locked else 'no (offline build)'}")
    if record.image_digest:
        click.echo(f"image    {record.image_digest}")
    elif record.image_tag:
        click.echo(f"image    {record.image_tag} (planned; --containerize --push where Docker runs)")

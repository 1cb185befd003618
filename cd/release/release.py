"""Publish one model version's release: gather assets, decide what to upload, render notes, publish.

Idempotent: an existing release (draft or published) for the tag is reused, complete assets with the
same checksum are skipped, partial or different ones replaced, and the deployment history in the
notes gains one entry per (environment, commit). The publisher is an adapter (GitHub or local)."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cd.errors import ReleaseError, UsageError
from cd.files import file_sha256
from cd.gitrepo import rev_parse
from cd.release.model import (
    MANIFEST,
    AssetAction,
    ExistingRelease,
    HistoryEntry,
    ReleaseInputs,
    ReleaseResult,
    WantedAsset,
)
from cd.release.notes import render_model_card, render_notes
from cd.release.plan import decide_asset_actions, merge_history, parse_state, sha256sums
from cd.release.publisher import Publisher, PublisherKind, open_publisher
from cd.release.records import build_record_asset

if TYPE_CHECKING:
    from cd.github.api import GitHubClient
    from cd.release.pull_evidence import PullEvidence
    from cd.workspace import Workspace

CONTENT_TYPES = {
    ".bento": "application/octet-stream",
    ".json": "application/json",
    ".md": "text/markdown",
    ".html": "text/html",
    ".txt": "text/plain",
}


def asset_names(inputs: ReleaseInputs) -> dict[str, str]:
    """Asset name per role. Gate artifacts are per environment: a later environment adds its own."""
    suffix = f"-{inputs.environment}" if inputs.environment else ""
    report_ext = inputs.report_path.suffix if inputs.report_path else ".md"
    return {
        "bento": inputs.bento_path.name if inputs.bento_path else f"{inputs.tag}.bento",
        "verdict": f"gate-verdict{suffix}.json",
        "report": f"gate-report{suffix}{report_ext}",
        "card": "model-card.md",
        "build": build_record_asset(inputs.model, inputs.version),
    }


def _wanted(name: str, path: Path) -> WantedAsset:
    content_type = (
        "text/plain" if name == MANIFEST else CONTENT_TYPES.get(path.suffix, "application/octet-stream")
    )
    return WantedAsset(name, path, path.stat().st_size, file_sha256(path), content_type)


def stage_content_assets(inputs: ReleaseInputs, workdir: Path) -> list[WantedAsset]:
    """Copy/render the content assets into WORKDIR under their release names."""
    names = asset_names(inputs)
    workdir.mkdir(parents=True, exist_ok=True)
    staged: list[WantedAsset] = []
    for role, source in (
        ("bento", inputs.bento_path),
        ("verdict", inputs.verdict_path),
        ("report", inputs.report_path),
        ("build", inputs.build_record_path),
    ):
        if source is None:
            continue
        if not source.is_file():
            raise ReleaseError(f"release {inputs.tag}: {role} file {source} does not exist")
        target = workdir / names[role]
        if source.resolve() != target.resolve():
            shutil.copyfile(source, target)
        staged.append(_wanted(names[role], target))
    card = workdir / names["card"]
    card.write_text(render_model_card(inputs.card))
    staged.append(_wanted(names["card"], card))
    return staged


def publish_release(inputs: ReleaseInputs, publisher: Publisher, workdir: Path) -> ReleaseResult:
    content = stage_content_assets(inputs, workdir)
    existing = publisher.find(inputs.tag)
    old_history, recorded = parse_state(existing.body) if existing else ((), {})
    new_entry = (
        HistoryEntry(
            inputs.environment,
            inputs.now,
            inputs.target_commit,
            inputs.run_url,
            inputs.pull_number,
            tuple(f"{a.user} {a.state} {a.commit_id}" for a in inputs.approvals),
        )
        if inputs.environment
        else None
    )
    history = merge_history(old_history, new_entry)

    checksums = {a.name: a.sha256 for a in content}
    checksums.update(_kept_checksums(existing, checksums, recorded))
    manifest_path = workdir / MANIFEST
    manifest_path.write_text(sha256sums(checksums))
    manifest = _wanted(MANIFEST, manifest_path)
    wanted = [*content, manifest]
    body = render_notes(inputs, history, {**checksums, MANIFEST: manifest.sha256})

    title = f"{inputs.model} v{inputs.version}"
    release = existing or publisher.create_draft(inputs.tag, inputs.target_commit, title, body)
    actions = decide_asset_actions(
        release.assets, wanted, recorded, published=not release.draft, mutable=frozenset({MANIFEST})
    )
    for action in actions:
        _apply(publisher, release, action)
    url = publisher.publish(release, title, body)
    return ReleaseResult(inputs.tag, url, existing is None, actions, history)


def _kept_checksums(
    existing: ExistingRelease | None, wanted: dict[str, str], recorded: dict[str, str]
) -> dict[str, str]:
    """Checksums of complete assets already on the release that this run does not bring (e.g. the gate
    verdict of an earlier environment): SHA256SUMS keeps covering them."""
    if existing is None:
        return {}
    kept = {}
    for asset in existing.assets:
        if asset.name in wanted or asset.name == MANIFEST or asset.state != "uploaded":
            continue
        digest = asset.sha256 or recorded.get(asset.name)
        if digest:
            kept[asset.name] = digest
    return kept


def _apply(publisher: Publisher, release: ExistingRelease, action: AssetAction) -> None:
    if action.kind == "skip":
        return
    if action.kind == "replace" and action.existing is not None:
        publisher.replace(release, action.existing, action.asset)
        return
    publisher.upload(release, action.asset)


# ---------------------------------------------------------------- `modelcd release`


@dataclass(frozen=True)
class ReleaseArgs:
    """What `modelcd release` was asked."""

    model: str
    version: int
    environment: str | None = None
    publisher: PublisherKind | None = None  # None: github inside Actions, else local
    bento: Path | None = None
    verdict: Path | None = None
    report: Path | None = None
    build_record: Path | None = None
    target: str | None = None  # the commit to tag; None: $GITHUB_SHA, else HEAD
    base: str | None = None
    pull: str | None = None  # "N", "auto" (the merged PR whose merge commit is the target), or None
    registry: bool = True
    releases_dir: Path | None = None


def pull_number(pull: str | None) -> int | None:
    """`--pr`: a positive number, or `auto` (None: look it up from the target commit)."""
    if pull is None or pull == "auto":
        return None
    if not pull.isdigit() or int(pull) < 1:
        raise UsageError(f"--pr {pull!r}: give a pull request number or `auto`")
    return int(pull)


def release_version(ws: Workspace, args: ReleaseArgs) -> ReleaseResult:
    """Publish (or update) the release `<model>-v<N>` with notes and assets; safe to run again. With
    `pull`, the PR's approvals and any gate override go into the notes (and the verdict file)."""
    from cd.registry import default_tracking_uri
    from cd.release.inputs import ReleaseRequest, gather_inputs

    kind = args.publisher or ("github" if ws.in_actions() else "local")
    commit = args.target or ws.environ.get("GITHUB_SHA") or rev_parse(ws.root, "HEAD")
    request = ReleaseRequest(
        root=ws.root,
        model=args.model,
        version=args.version,
        target=commit,
        environment=args.environment,
        bento=args.bento,
        verdict=args.verdict,
        report=args.report,
        build_record=args.build_record,
        base=args.base,
        registry_uri=default_tracking_uri(ws.root) if args.registry else None,
    )
    number = pull_number(args.pull)
    client = ws.github() if kind == "github" or args.pull is not None else None
    evidence = None
    if args.pull is not None and client is not None:
        evidence = _pull_evidence(ws, client, number, commit, args)
    inputs = gather_inputs(
        request,
        evidence.approvals if evidence else (),
        evidence.number if evidence else None,
        asdict(evidence.override.override) if evidence and evidence.override else None,
    )
    publisher = open_publisher(ws, kind, args.releases_dir, client)
    with tempfile.TemporaryDirectory(prefix="modelcd-release-") as tmp:
        return publish_release(inputs, publisher, Path(tmp))


def _gate_name(args: ReleaseArgs) -> str:
    """Whose gate judged this version: the model's, or, when the verdict says the version was one of an
    experiment's challengers, its own (`churn v3`), whose status check and override are separate."""
    import json

    from cd.github.gate_results import gate_name

    if args.verdict is None or not args.verdict.is_file():
        return args.model
    try:
        data = json.loads(args.verdict.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return args.model  # the release reads it again and says what is wrong with it
    challenger = isinstance(data, dict) and bool(data.get("challenger"))
    return gate_name(args.model, args.version if challenger else None)


def _pull_evidence(
    ws: Workspace, client: GitHubClient, number: int | None, commit: str, args: ReleaseArgs
) -> PullEvidence | None:
    """The PR's approvals and gate override; the override is also written into the verdict file."""
    from cd.github.override_flow import record_override
    from cd.release.pull_evidence import gather_pull_evidence

    gate = _gate_name(args)
    evidence = gather_pull_evidence(client, number, commit, gate, args.environment)
    if evidence is None:
        ws.say(f"no merged pull request has {commit[:12]} as its merge commit: no approvals in the notes")
    elif evidence.override is not None:
        found = evidence.override
        ws.say(
            f"gate {gate}@{found.environment} was overridden by @{found.override.by} on #{evidence.number}"
        )
        if args.verdict is not None and record_override(
            args.verdict, [(gate, found.environment)], found.override
        ):
            ws.say(f"  recorded in {args.verdict}")
    return evidence

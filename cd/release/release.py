"""Publish one model version's release: gather assets, decide what to upload, render notes, publish.

Idempotent: an existing release (draft or published) for the tag is reused, complete assets with the
same checksum are skipped, partial or different ones replaced, and the deployment history in the
notes gains one entry per (environment, commit). The publisher is an adapter (GitHub or local)."""

from __future__ import annotations

import shutil
from pathlib import Path

from cd.errors import ReleaseError
from cd.release.local_publisher import file_sha256
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
from cd.release.publisher import Publisher

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
        HistoryEntry(inputs.environment, inputs.now, inputs.target_commit, inputs.run_url)
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
    actions = decide_asset_actions(release.assets, wanted, recorded)
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
        publisher.delete_asset(release, action.existing)
    publisher.upload(release, action.asset)

"""The embedded default publisher: releases as folders, `releases/<tag>/`, with the same notes
(`NOTES.md`) and assets as the GitHub release, plus `release.json` (tag, target, title, draft).

Every file is written to a temp file in the same folder and renamed into place, so a folder never holds
a half-written asset: an interrupted run leaves only complete files (and maybe a stray temp file)."""

from __future__ import annotations

import json
from pathlib import Path

from cd.errors import ReleaseError
from cd.files import copy_atomic, file_sha256, write_atomic
from cd.release.model import ExistingAsset, ExistingRelease, WantedAsset

METADATA = "release.json"
NOTES = "NOTES.md"


class LocalPublisher:
    def __init__(self, root: Path) -> None:
        self.root = root  # the `releases/` directory

    def _folder(self, tag: str) -> Path:
        return self.root / tag

    def find(self, tag: str) -> ExistingRelease | None:
        folder = self._folder(tag)
        meta_path = folder / METADATA
        if not meta_path.is_file():
            return None
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError as exc:
            raise ReleaseError(f"{meta_path}: not JSON ({exc}); remove the folder to start over") from exc
        notes = folder / NOTES
        assets = tuple(
            ExistingAsset(
                id=p.name, name=p.name, size=p.stat().st_size, state="uploaded", sha256=file_sha256(p)
            )
            for p in sorted(folder.iterdir())
            if p.is_file() and p.name not in (METADATA, NOTES) and not p.name.startswith(".")
        )
        return ExistingRelease(
            id=tag,
            tag=tag,
            draft=bool(meta.get("draft", True)),
            body=notes.read_text() if notes.is_file() else "",
            assets=assets,
            url=str(folder.resolve()),
        )

    def create_draft(self, tag: str, target: str, title: str, body: str) -> ExistingRelease:
        folder = self._folder(tag)
        self._write_meta(folder, {"tag": tag, "target_commitish": target, "name": title, "draft": True})
        write_atomic(folder / NOTES, body)
        return ExistingRelease(id=tag, tag=tag, draft=True, body=body, assets=(), url=str(folder.resolve()))

    def upload(self, release: ExistingRelease, asset: WantedAsset) -> None:
        copy_atomic(asset.path, self._folder(release.tag) / asset.name)

    def replace(self, release: ExistingRelease, existing: ExistingAsset, asset: WantedAsset) -> None:
        copy_atomic(asset.path, self._folder(release.tag) / asset.name)  # os.replace: old or new, never none

    def delete_asset(self, release: ExistingRelease, asset: ExistingAsset) -> None:
        (self._folder(release.tag) / asset.name).unlink(missing_ok=True)

    def download(self, release: ExistingRelease, asset: ExistingAsset, target: Path) -> Path:
        return copy_atomic(self._folder(release.tag) / asset.name, target)

    def publish(self, release: ExistingRelease, title: str, body: str) -> str:
        folder = self._folder(release.tag)
        meta = json.loads((folder / METADATA).read_text())
        write_atomic(folder / NOTES, body)
        self._write_meta(folder, {**meta, "name": title, "draft": False})
        return str(folder.resolve())

    @staticmethod
    def _write_meta(folder: Path, meta: dict[str, object]) -> None:
        write_atomic(folder / METADATA, json.dumps(meta, indent=2, sort_keys=True) + "\n")

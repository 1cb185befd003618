"""The embedded default publisher: releases as folders, `releases/<tag>/`, with the same notes
(`NOTES.md`) and assets as the GitHub release, plus `release.json` (tag, target, title, draft).

Every file is written to a temp file in the same folder and renamed into place, so a folder never holds
a half-written asset: an interrupted run leaves only complete files (and maybe a stray temp file)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from cd.errors import ReleaseError
from cd.release.model import ExistingAsset, ExistingRelease, WantedAsset

METADATA = "release.json"
NOTES = "NOTES.md"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _atomic_write(target: Path, data: bytes | None = None, source: Path | None = None) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            if source is not None:
                with source.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
            else:
                out.write(data or b"")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
        _atomic_write(folder / NOTES, body.encode())
        return ExistingRelease(id=tag, tag=tag, draft=True, body=body, assets=(), url=str(folder.resolve()))

    def upload(self, release: ExistingRelease, asset: WantedAsset) -> None:
        _atomic_write(self._folder(release.tag) / asset.name, source=asset.path)

    def delete_asset(self, release: ExistingRelease, asset: ExistingAsset) -> None:
        (self._folder(release.tag) / asset.name).unlink(missing_ok=True)

    def publish(self, release: ExistingRelease, title: str, body: str) -> str:
        folder = self._folder(release.tag)
        meta = json.loads((folder / METADATA).read_text())
        _atomic_write(folder / NOTES, body.encode())
        self._write_meta(folder, {**meta, "name": title, "draft": False})
        return str(folder.resolve())

    @staticmethod
    def _write_meta(folder: Path, meta: dict[str, object]) -> None:
        _atomic_write(folder / METADATA, (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode())

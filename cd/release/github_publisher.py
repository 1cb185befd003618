"""Publisher adapter for GitHub releases, through cd.github.api (github3.py)."""

from __future__ import annotations

from pathlib import Path

from cd.github.api import AssetInfo, GitHubClient, ReleaseInfo
from cd.release.model import ExistingAsset, ExistingRelease, WantedAsset
from cd.release.plan import digest_hex


def _asset(info: AssetInfo) -> ExistingAsset:
    return ExistingAsset(
        id=str(info.id), name=info.name, size=info.size, state=info.state, sha256=digest_hex(info.digest)
    )


class GitHubPublisher:
    def __init__(self, client: GitHubClient) -> None:
        self.client = client

    def _existing(self, info: ReleaseInfo) -> ExistingRelease:
        assets = tuple(_asset(a) for a in self.client.release_assets(info.id))
        return ExistingRelease(
            id=str(info.id), tag=info.tag, draft=info.draft, body=info.body, assets=assets, url=info.html_url
        )

    def find(self, tag: str) -> ExistingRelease | None:
        """The published release for TAG, else the oldest draft (a draft is invisible to get-by-tag)."""
        matches = [r for r in self.client.releases() if r.tag == tag]
        if not matches:
            return None
        published = [r for r in matches if not r.draft]
        chosen = published[0] if published else min(matches, key=lambda r: r.id)
        return self._existing(chosen)

    def create_draft(self, tag: str, target: str, title: str, body: str) -> ExistingRelease:
        info = self.client.create_release(tag, target, title, body, draft=True)
        return ExistingRelease(id=str(info.id), tag=tag, draft=True, body=body, assets=(), url=info.html_url)

    def upload(self, release: ExistingRelease, asset: WantedAsset) -> None:
        self.client.upload_asset(int(release.id), asset.path, asset.name, asset.content_type)
        for leftover in (a for a in release.assets if a.name == staged_name(asset.name)):
            self.client.delete_asset(int(leftover.id), leftover.name)  # a replacement that stopped half-way

    def replace(self, release: ExistingRelease, existing: ExistingAsset, asset: WantedAsset) -> None:
        """GitHub holds one asset per name: upload under a staging name, delete the old asset, rename.
        Until the new bytes are stored the old asset stays; a failure after the delete leaves the new
        bytes under the staging name, and the next run finishes the rename (`staged_name`)."""
        staged = staged_name(asset.name)
        leftover = next((a for a in release.assets if a.name == staged), None)
        if leftover is not None:  # an earlier replacement stopped half-way: start it again
            self.client.delete_asset(int(leftover.id), leftover.name)
        uploaded = self.client.upload_asset(int(release.id), asset.path, staged, asset.content_type)
        self.client.delete_asset(int(existing.id), existing.name)
        self.client.rename_asset(uploaded.id, asset.name)

    def delete_asset(self, release: ExistingRelease, asset: ExistingAsset) -> None:
        self.client.delete_asset(int(asset.id), asset.name)

    def download(self, release: ExistingRelease, asset: ExistingAsset, target: Path) -> Path:
        return self.client.download_asset(int(asset.id), target, asset.name)

    def publish(self, release: ExistingRelease, title: str, body: str) -> str:
        info = self.client.update_release(int(release.id), body=body, name=title, draft=False)
        return info.html_url


def staged_name(name: str) -> str:
    """Where a replacement asset is uploaded before it takes `name`."""
    return f"{name}.replacing"

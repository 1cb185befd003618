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

    def delete_asset(self, release: ExistingRelease, asset: ExistingAsset) -> None:
        self.client.delete_asset(int(asset.id), asset.name)

    def download(self, release: ExistingRelease, asset: ExistingAsset, target: Path) -> Path:
        return self.client.download_asset(int(asset.id), target, asset.name)

    def publish(self, release: ExistingRelease, title: str, body: str) -> str:
        info = self.client.update_release(int(release.id), body=body, name=title, draft=False)
        return info.html_url

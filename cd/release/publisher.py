"""What a release publisher does; the two adapters are cd.release.github_publisher and
cd.release.local_publisher."""

from __future__ import annotations

from typing import Protocol

from cd.release.model import ExistingAsset, ExistingRelease, WantedAsset


class Publisher(Protocol):
    def find(self, tag: str) -> ExistingRelease | None:
        """The release for TAG, drafts included; None when there is none."""

    def create_draft(self, tag: str, target: str, title: str, body: str) -> ExistingRelease: ...

    def upload(self, release: ExistingRelease, asset: WantedAsset) -> None: ...

    def delete_asset(self, release: ExistingRelease, asset: ExistingAsset) -> None: ...

    def publish(self, release: ExistingRelease, title: str, body: str) -> str:
        """Set the notes and make the release public (no longer a draft); returns its URL."""

"""What a release publisher does; the two adapters are cd.release.github_publisher and
cd.release.local_publisher."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, assert_never

from cd.release.model import ExistingAsset, ExistingRelease, WantedAsset

if TYPE_CHECKING:
    from cd.github.api import GitHubClient
    from cd.workspace import Workspace


class Publisher(Protocol):
    def find(self, tag: str) -> ExistingRelease | None:
        """The release for TAG, drafts included; None when there is none."""

    def create_draft(self, tag: str, target: str, title: str, body: str) -> ExistingRelease: ...

    def upload(self, release: ExistingRelease, asset: WantedAsset) -> None: ...

    def delete_asset(self, release: ExistingRelease, asset: ExistingAsset) -> None: ...

    def replace(self, release: ExistingRelease, existing: ExistingAsset, asset: WantedAsset) -> None:
        """Put `asset` in place of `existing` (same name) so that the release never lacks it: the new
        bytes are stored before the old ones are removed."""

    def download(self, release: ExistingRelease, asset: ExistingAsset, target: Path) -> Path:
        """Write the asset's bytes to TARGET (atomically); returns TARGET."""

    def publish(self, release: ExistingRelease, title: str, body: str) -> str:
        """Set the notes and make the release public (no longer a draft); returns its URL."""


PublisherKind = Literal["github", "local"]


def open_publisher(
    ws: Workspace,
    kind: PublisherKind | None = None,
    releases_dir: Path | None = None,
    client: GitHubClient | None = None,
) -> Publisher:
    """Where releases live: GitHub inside Actions (or when asked), else `<repo>/releases/`."""
    chosen = kind or ("github" if ws.in_actions() else "local")
    match chosen:
        case "github":
            from cd.release.github_publisher import GitHubPublisher

            return GitHubPublisher(client or ws.github())
        case "local":
            from cd.release.local_publisher import LocalPublisher

            return LocalPublisher(releases_dir or ws.root / "releases")
        case _:
            assert_never(chosen)

"""The build a published release holds: what a later environment rolls out instead of building again.

The build job of the first environment builds, pushes and releases a version; every later environment
(`modelcd build --reuse-release`) takes that release's build record and Bento archive, so production
runs the image digest and Bento that staging ran. What is taken is checked before it is used:

- the release is published (a draft is an unfinished release);
- its `SHA256SUMS` lists the build record and the Bento archive the record names, and the downloaded
  bytes hash to those entries (and to GitHub's own asset digests, where GitHub gives them), and to the
  checksums the release notes recorded when they were published;
- the record is of the version git wants, and names the Bento archive's sha256 as the release lists it.

Any mismatch is a CustodyError naming both hashes; nothing is written to the output directory until
every check holds.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from cd.custody import Identity, build_record_problems, refuse
from cd.errors import CustodyError
from cd.files import file_sha256
from cd.package.record import BuildRecord, read_record
from cd.release.model import MANIFEST, ExistingAsset, ExistingRelease, release_tag
from cd.release.plan import parse_state
from cd.release.publisher import Publisher


def build_record_asset(model: str, version: int) -> str:
    """The release asset holding the build record: the record's own file name."""
    return f"{release_tag(model, version)}.build.json"


@dataclass(frozen=True)
class ReleasedBuild:
    """A build taken from its release, written beside each other as `modelcd build` writes them."""

    record: BuildRecord
    record_path: Path
    bento_path: Path
    release_url: str


def parse_sha256sums(text: str, where: str) -> dict[str, str]:
    """`<hex>  <name>` lines (the `sha256sum` format) as name -> hex."""
    sums: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name:
            raise CustodyError(f"{where} line {number}: not `<sha256>  <name>`: {line!r}")
        sums[name.lstrip("*")] = digest
    return sums


def fetch_released_build(publisher: Publisher, wanted: Identity, out_dir: Path) -> ReleasedBuild | None:
    """The verified build of the `wanted` version from its release, written into `out_dir`; None when
    there is no release yet (the version is built for the first time)."""
    model, version = wanted.model, wanted.version
    tag = release_tag(model, version)
    release = publisher.find(tag)
    if release is None:
        return None
    if release.draft:
        raise CustodyError(
            f"release {tag} ({release.url}) is a draft: its first build never finished publishing. Run that "
            "build job again, or delete the draft to build the version anew"
        )
    assets = {a.name: a for a in release.assets if a.state == "uploaded"}
    record_name = build_record_asset(model, version)
    for needed in (MANIFEST, record_name):
        if needed not in assets:
            raise CustodyError(
                f"release {tag} ({release.url}) has no {needed} asset, so it cannot say which build it "
                "released; build the version without --reuse-release (the release keeps its published "
                "assets, and refuses a Bento with other bytes)"
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".modelcd-fetch-", dir=out_dir) as tmp:
        work = Path(tmp)
        sums = parse_sha256sums(
            publisher.download(release, assets[MANIFEST], work / MANIFEST).read_text(), f"{tag}/{MANIFEST}"
        )
        noted = parse_state(release.body)[1]
        record_path = _verified(publisher, release, assets, record_name, sums, noted, work)
        record = read_record(record_path)
        refuse(
            build_record_problems(asdict(record), wanted, f"build record of release {tag} ({release.url})")
        )
        bento_name = record.bento_archive
        if sums.get(bento_name) != record.bento_sha256:
            raise CustodyError(
                f"release {tag}: the build record names {bento_name} with sha256 {record.bento_sha256[:12]}…, "
                f"but {MANIFEST} lists {_short(sums.get(bento_name))}"
            )
        bento_path = _verified(publisher, release, assets, bento_name, sums, noted, work)
        record_final = out_dir / record_name
        bento_final = out_dir / bento_name
        os.replace(bento_path, bento_final)
        os.replace(record_path, record_final)
    return ReleasedBuild(record, record_final, bento_final, release.url)


def _verified(
    publisher: Publisher,
    release: ExistingRelease,
    assets: Mapping[str, ExistingAsset],
    name: str,
    sums: Mapping[str, str],
    noted: Mapping[str, str],
    work: Path,
) -> Path:
    """Download asset `name` and check its bytes against every checksum the release gives for it."""
    asset = assets.get(name)
    listed = sums.get(name)
    if asset is None or listed is None:
        raise CustodyError(
            f"release {release.tag}: {name} is {'not an asset' if asset is None else f'not in {MANIFEST}'}"
        )
    path = publisher.download(release, asset, work / name)
    actual = file_sha256(path)
    claims = [(MANIFEST, listed), ("the release notes", noted.get(name)), ("GitHub's digest", asset.sha256)]
    for source, claimed in claims:
        if claimed is not None and claimed != actual:
            raise CustodyError(
                f"release {release.tag}: {name} downloads as sha256 {actual[:12]}…, but {source} says "
                f"{claimed[:12]}…: the asset changed after it was published"
            )
    return path


def _short(digest: str | None) -> str:
    return f"{digest[:12]}…" if digest else "nothing"

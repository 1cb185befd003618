"""Pure decisions of a release: which assets to upload, replace or skip; the deployment history; the
machine-readable block kept in the release body (checksums and history survive re-runs there)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence

from cd.errors import ReleaseError
from cd.release.model import AssetAction, ExistingAsset, HistoryEntry, WantedAsset

STATE_MARKER = "modelcd:release"
_STATE_RE = re.compile(r"<!-- " + STATE_MARKER + r" (\{.*?\}) -->", re.DOTALL)


def decide_asset_actions(
    existing: Sequence[ExistingAsset],
    wanted: Sequence[WantedAsset],
    recorded: Mapping[str, str],
    *,
    published: bool = False,
    mutable: frozenset[str] = frozenset(),
) -> tuple[AssetAction, ...]:
    """For each wanted asset: skip it when an asset of that name is complete with the same size and
    checksum (GitHub's digest, else the checksum RECORDED in the release body by the earlier run);
    replace it when it is partial (interrupted upload) or differs; upload it when it is missing.

    Once the release is `published`, a complete asset is never replaced with other bytes (except the
    `mutable` index, SHA256SUMS): ReleaseError naming both checksums."""
    by_name = {a.name: a for a in existing}
    if published:
        _refuse_replacing_published(by_name, wanted, recorded, mutable)
    actions = []
    for asset in wanted:
        present = by_name.get(asset.name)
        if present is None:
            actions.append(AssetAction("upload", asset, None, "missing"))
        elif present.state != "uploaded":
            actions.append(AssetAction("replace", asset, present, f"partial upload (state {present.state})"))
        elif present.size != asset.size:
            actions.append(AssetAction("replace", asset, present, f"size {present.size} != {asset.size}"))
        else:
            known = present.sha256 or recorded.get(asset.name)
            if known is None:
                actions.append(AssetAction("replace", asset, present, "checksum unknown"))
            elif known != asset.sha256:
                actions.append(AssetAction("replace", asset, present, "checksum differs"))
            else:
                actions.append(AssetAction("skip", asset, present, "present with the same checksum"))
    return tuple(actions)


def _refuse_replacing_published(
    by_name: Mapping[str, ExistingAsset],
    wanted: Sequence[WantedAsset],
    recorded: Mapping[str, str],
    mutable: frozenset[str],
) -> None:
    problems = []
    for asset in wanted:
        present = by_name.get(asset.name)
        if present is None or present.state != "uploaded" or asset.name in mutable:
            continue
        # what the release published: the checksum its body recorded (a damaged copy is repaired with
        # those bytes), else the asset's own
        known = recorded.get(asset.name) or present.sha256
        if (known is None and present.size != asset.size) or (known is not None and known != asset.sha256):
            problems.append(
                f"{asset.name}: the published release has sha256 {known or 'unknown'} ({present.size} bytes); "
                f"this run has {asset.sha256} ({asset.size} bytes)"
            )
    if problems:
        raise ReleaseError(
            "a published release asset is never replaced with other bytes:\n"
            + "\n".join(problems)
            + "\nrelease what is already published (rebuild nothing), or release a new version"
        )


def merge_history(history: Iterable[HistoryEntry], new: HistoryEntry | None) -> tuple[HistoryEntry, ...]:
    """HISTORY plus NEW; an entry for the same (environment, commit) is not repeated."""
    entries = list(history)
    if new is not None and not any(
        e.environment == new.environment and e.commit == new.commit for e in entries
    ):
        entries.append(new)
    return tuple(entries)


def sha256sums(checksums: Mapping[str, str]) -> str:
    """The `sha256sum -c` format: `<hex>  <name>` per line, sorted by name."""
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(checksums.items()))


def _entry(e: HistoryEntry) -> dict[str, object]:
    data: dict[str, object] = {"environment": e.environment, "deployed_at": e.deployed_at, "commit": e.commit}
    data["run_url"] = e.run_url
    if e.pull is not None:
        data["pull"] = e.pull
    if e.approvals:
        data["approvals"] = list(e.approvals)
    return data


def state_block(history: Sequence[HistoryEntry], checksums: Mapping[str, str]) -> str:
    data = {
        "history": [_entry(e) for e in history],
        "sha256": dict(sorted(checksums.items())),
    }
    return f"<!-- {STATE_MARKER} {json.dumps(data, sort_keys=True)} -->"


def parse_state(body: str) -> tuple[tuple[HistoryEntry, ...], dict[str, str]]:
    """History and checksums from a release body written by `state_block`; empty when absent/garbled."""
    found = _STATE_RE.search(body or "")
    if not found:
        return (), {}
    try:
        data = json.loads(found.group(1))
        history = tuple(
            HistoryEntry(**{**entry, "approvals": tuple(entry.get("approvals", ()))})
            for entry in data.get("history", [])
        )
        checksums = {str(k): str(v) for k, v in dict(data.get("sha256", {})).items()}
    except (ValueError, TypeError):
        return (), {}
    return history, checksums


def digest_hex(digest: str | None) -> str | None:
    """GitHub's asset digest `sha256:<hex>` as hex; None for other algorithms or none."""
    if digest and digest.startswith("sha256:"):
        return digest.removeprefix("sha256:")
    return None

"""Values of a release: what goes in (inputs, model card), what exists, what to do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

MANIFEST = "SHA256SUMS"


def release_tag(model: str, version: int) -> str:
    return f"{model}-v{version}"


@dataclass(frozen=True)
class ModelCard:
    """Who made this version and from what: model.yaml plus the registry's run and hashes."""

    model: str
    version: int
    registered_model: str = ""
    task: str = ""
    description: str = ""
    owners: tuple[str, ...] = ()
    inputs: tuple[tuple[str, str], ...] = ()  # (column, type)
    run_id: str | None = None
    source: str | None = None
    model_sha256: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    data_sha256: Mapping[str, str] = field(default_factory=dict)  # dataset -> sha256
    gate: tuple[
        tuple[str, str, str, str], ...
    ] = ()  # overall checks: (metric, candidate, incumbent, outcome)
    gate_verdict: str = ""  # e.g. "PASS in staging"
    importance_metric: str = ""
    importance: tuple[
        tuple[str, str, str, str], ...
    ] = ()  # top features: (feature, candidate, incumbent, shift)
    shap: tuple[tuple[str, str, str, str], ...] = ()  # the same by mean |SHAP value|, where computed


@dataclass(frozen=True)
class Approval:
    user: str
    state: str
    commit_id: str
    on_head: bool  # the review was given on the PR's head commit (not stale)


@dataclass(frozen=True)
class HistoryEntry:
    environment: str
    deployed_at: str  # ISO 8601 UTC
    commit: str
    run_url: str = ""
    pull: int | None = None  # the promotion's pull request, when the release run knew it
    approvals: tuple[str, ...] = ()  # "user state commit" of each approving review, as recorded


@dataclass(frozen=True)
class ReleaseInputs:
    model: str
    version: int
    target_commit: str
    card: ModelCard
    environment: str | None = None
    verdict: Mapping[str, Any] | None = None
    verdict_path: Path | None = None
    report_path: Path | None = None
    bento_path: Path | None = None
    build_record: Mapping[str, Any] = field(default_factory=dict)
    build_record_path: Path | None = None  # published as an asset: what later environments deploy
    plan_entry: str | None = None  # e.g. "staging: churn v1 -> v2"
    approvals: tuple[Approval, ...] = ()
    pull_number: int | None = None
    gate_override: Mapping[str, str] | None = None  # {by, reason, at, url}, as a verdict records it
    run_url: str = ""
    now: str = ""

    @property
    def tag(self) -> str:
        return release_tag(self.model, self.version)


@dataclass(frozen=True)
class WantedAsset:
    name: str
    path: Path
    size: int
    sha256: str
    content_type: str


@dataclass(frozen=True)
class ExistingAsset:
    id: str  # GitHub asset id, or the file name for the local publisher
    name: str
    size: int
    state: str  # "uploaded", or "open" for an interrupted upload
    sha256: str | None  # from GitHub's digest, when it reports one


@dataclass(frozen=True)
class ExistingRelease:
    id: str
    tag: str
    draft: bool
    body: str
    assets: tuple[ExistingAsset, ...]
    url: str = ""


AssetActionKind = Literal["upload", "replace", "skip"]


@dataclass(frozen=True)
class AssetAction:
    kind: AssetActionKind
    asset: WantedAsset
    existing: ExistingAsset | None
    reason: str

    def describe(self) -> str:
        return f"{self.kind} {self.asset.name}: {self.reason}"


@dataclass(frozen=True)
class ReleaseResult:
    tag: str
    url: str
    created: bool
    actions: tuple[AssetAction, ...]
    history: tuple[HistoryEntry, ...]

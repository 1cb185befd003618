"""Lineage: for what is live, what was recorded about how it got there.

For each model of an environment: the version the endpoint serves and its rollout record (endpoint tags /
state file), the commit and pull request that asked for it, the approvals, the gate verdict (with its
dataset sha256 and gate commit), the training run, the build (Bento sha256, image digest) and the release,
each read from where modelcd wrote it. What is missing is said to be "not recorded", never guessed, and
records that disagree with each other (another image, another run) are named as mismatches.
`lineage_of` is pure; `trace_environment` gathers the records.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cd.errors import ModelcdError

if TYPE_CHECKING:
    from cd.workspace import Workspace

NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class Fact:
    name: str
    value: str | None  # None: not recorded
    where: str = ""  # where it was read

    def text(self) -> str:
        value = NOT_RECORDED if self.value is None else self.value
        return f"{self.name}: {value}" + (
            f"  ({self.where})" if self.where and self.value is not None else ""
        )


@dataclass(frozen=True)
class Lineage:
    environment: str
    model: str
    endpoint: str
    live_version: int | None
    facts: tuple[Fact, ...]
    mismatches: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "model": self.model,
            "endpoint": self.endpoint,
            "live_version": self.live_version,
            "facts": {f.name: {"value": f.value, "where": f.where} for f in self.facts},
            "mismatches": list(self.mismatches),
        }

    def render(self) -> str:
        live = "nothing live" if self.live_version is None else f"v{self.live_version} live"
        lines = [f"{self.endpoint} ({self.environment}/{self.model}): {live}"]
        lines += [f"  {f.text()}" for f in self.facts]
        lines += [f"  ! mismatch: {m}" for m in self.mismatches]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Records:
    """What was found for one (environment, model); every part may be missing."""

    environment: str
    model: str
    endpoint: str
    live_version: int | None
    live_image: str | None
    rollout: Mapping[str, Any] | None  # the rollout state as recorded on the endpoint
    rollout_file: str | None
    release: Mapping[str, Any] | None  # url, history entries
    build: Mapping[str, Any] | None
    verdict: Mapping[str, Any] | None
    release_where: str = ""
    commit_subject: str | None = None  # the subject of the commit git recorded (a merge names its PR)


def _history_entry(records: Records) -> Mapping[str, Any] | None:
    if records.release is None:
        return None
    entries = [e for e in records.release.get("history", []) if e.get("environment") == records.environment]
    return entries[-1] if entries else None


def lineage_of(records: Records) -> Lineage:
    """The facts and mismatches of one live model, from its records (pure)."""
    rollout, build, verdict = records.rollout or {}, records.build or {}, records.verdict or {}
    entry = _history_entry(records) or {}
    gate = verdict.get("gate") or {}
    dataset = verdict.get("dataset") or {}
    candidate = verdict.get("candidate") or {}
    commit = rollout.get("git_sha") or entry.get("commit")
    pull = entry.get("pull")
    pull_where = records.release_where
    if pull is None and records.commit_subject:
        merged = re.search(r"#(\d+)", records.commit_subject)
        pull, pull_where = (int(merged.group(1)), "the commit's subject") if merged else (None, "")
    override = verdict.get("override")
    where_release = records.release_where
    facts = [
        Fact("commit", commit or None, "rollout record" if rollout.get("git_sha") else where_release),
        Fact("pull request", None if pull is None else f"#{pull}", pull_where),
        Fact("approvals", ", ".join(entry.get("approvals", [])) or None, where_release),
        Fact(
            "gate verdict",
            None
            if not verdict
            else f"{str(verdict.get('verdict', '')).upper()}: {verdict.get('summary', '')}"
            + (" (overridden)" if override else ""),
            "release asset gate-verdict",
        ),
        Fact(
            "gate",
            None if not gate else f"{gate.get('path')} at {str(gate.get('commit', ''))[:12]}",
            "gate verdict",
        ),
        Fact(
            "dataset sha256", dataset.get("sha256"), f"gate verdict ({dataset.get('uri')})" if dataset else ""
        ),
        Fact(
            "training run",
            build.get("run_id") or candidate.get("run_id"),
            "build record" if build.get("run_id") else "gate verdict",
        ),
        Fact(
            "model sha256",
            build.get("model_sha256") or candidate.get("sha256"),
            "build record" if build else "gate verdict",
        ),
        Fact(
            "build",
            None
            if not build
            else f"{build.get('bento_tag')} (bento sha256 {str(build.get('bento_sha256'))[:12]})",
            "build record",
        ),
        Fact("image digest", build.get("image_digest") or None, "build record"),
        Fact("image serving", records.live_image, "endpoint"),
        Fact(
            "release",
            None
            if records.release is None
            else str(records.release.get("url") or records.release.get("tag")),
            where_release,
        ),
        Fact(
            "rollout",
            None
            if not rollout
            else f"v{rollout.get('version')} {rollout.get('phase')} (revision {rollout.get('revision')}): {rollout.get('reason', '')}",
            "endpoint record",
        ),
        Fact("rollout record file", records.rollout_file, ""),
    ]
    return Lineage(
        records.environment,
        records.model,
        records.endpoint,
        records.live_version,
        tuple(facts),
        _mismatches(records),
    )


def _mismatches(records: Records) -> tuple[str, ...]:
    rollout, build, verdict = records.rollout or {}, records.build or {}, records.verdict or {}
    found = []
    candidate = verdict.get("candidate") or {}
    if build.get("run_id") and candidate.get("run_id") and build["run_id"] != candidate["run_id"]:
        found.append(
            f"the build record's training run {build['run_id']} is not the gate's {candidate['run_id']}"
        )
    if build.get("model_sha256") and candidate.get("sha256") and build["model_sha256"] != candidate["sha256"]:
        found.append(
            f"the build's model sha256 {build['model_sha256'][:12]} is not the gated {candidate['sha256'][:12]}"
        )
    if records.live_image and build:
        known = {str(build.get(k)) for k in ("image_digest", "image_tag", "bento_tag") if build.get(k)}
        if known and not any(k in records.live_image for k in known):
            found.append(
                f"the endpoint serves {records.live_image}, not the build's {' / '.join(sorted(known))}"
            )
    if (
        rollout.get("version") is not None
        and records.live_version is not None
        and int(rollout["version"]) != records.live_version
        and rollout.get("phase") == "succeeded"
    ):
        found.append(
            f"the rollout record says v{rollout['version']} succeeded but v{records.live_version} is live"
        )
    return tuple(found)


# ---------------------------------------------------------------- gathering


def _release_records(
    ws: Workspace, model: str, version: int, environment: str
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, Any] | None, str]:
    from cd.release.model import release_tag
    from cd.release.plan import parse_state
    from cd.release.publisher import open_publisher
    from cd.release.records import build_record_asset

    publisher = open_publisher(ws)
    tag = release_tag(model, version)
    release = publisher.find(tag)
    if release is None:
        return None, None, None, ""
    history, _ = parse_state(release.body)
    info = {
        "tag": tag,
        "url": release.url,
        "history": [vars(e) | {"approvals": list(e.approvals)} for e in history],
    }
    assets = {a.name: a for a in release.assets}
    verdict_names = [
        f"gate-verdict-{environment}.json",
        *sorted(n for n in assets if n.startswith("gate-verdict")),
    ]

    def read(name: str) -> dict[str, Any] | None:
        asset = assets.get(name)
        if asset is None:
            return None
        with tempfile.TemporaryDirectory(prefix="modelcd-lineage-") as tmp:
            try:
                data: dict[str, Any] = json.loads(
                    publisher.download(release, asset, Path(tmp) / name).read_text()
                )
            except (OSError, ValueError, ModelcdError):
                return None
            return data

    verdict = next((v for n in verdict_names if (v := read(n)) is not None), None)
    return info, read(build_record_asset(model, version)), verdict, f"release {tag}"


def trace(ws: Workspace, env_name: str, model: str) -> Lineage:
    from dataclasses import asdict

    from cd.drift import live_version
    from cd.rollout.record import decode

    env = ws.environment(env_name)
    endpoint = env.endpoint_name(model)
    observed = ws.target(env).observe(endpoint)
    live = live_version(observed)
    state = decode(observed.record) if observed is not None else None
    variant = observed.variant(f"v{live}") if observed is not None and live is not None else None
    version = live if live is not None else (state.version if state is not None else None)
    release = build = verdict = None
    where = ""
    if version is not None:
        release, build, verdict, where = _release_records(ws, model, version, env_name)
    file = ws.root / ".modelcd" / "rollouts" / f"{env_name}-{model}-v{version}.md"
    commit = (state.git_sha if state is not None else "") or next(
        (
            e.get("commit")
            for e in reversed((release or {}).get("history", []))
            if e.get("environment") == env_name
        ),
        "",
    )
    records = Records(
        environment=env_name,
        model=model,
        endpoint=endpoint,
        live_version=live,
        live_image=variant.image if variant is not None else None,
        rollout=asdict(state) if state is not None else None,
        rollout_file=str(file.relative_to(ws.root)) if version is not None and file.is_file() else None,
        release=release,
        build=build,
        verdict=verdict,
        release_where=where,
        commit_subject=_subject(ws.root, commit) if commit else None,
    )
    return lineage_of(records)


def _subject(root: Path, commit: str) -> str | None:
    from cd.errors import GitError
    from cd.gitrepo import run_git

    try:
        return run_git(root, "log", "-1", "--format=%s", commit).decode().strip() or None
    except GitError:
        return None  # not in this clone


def trace_environment(ws: Workspace, env_name: str, models: Sequence[str] | None = None) -> list[Lineage]:
    env = ws.environment(env_name)
    return [trace(ws, env_name, m) for m in (models or sorted(env.models))]

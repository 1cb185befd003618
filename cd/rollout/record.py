"""The rollout record: where a rollout stands, persisted on the target itself.

On SageMaker it is a set of endpoint tags (one field per tag, `modelcd:` keys), so any later run, on
any machine, resumes from the endpoint alone. `encode` and `decode` are exact inverses for every value
that `encode` accepts; values are checked against SageMaker's tag limits (value <= 256 characters from
`[A-Za-z0-9 _.:/=+\\-@]`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal, get_args

from cd.errors import RolloutError

Phase = Literal[
    "progressing", "paused", "experimenting", "rolling_back", "succeeded", "rolled_back", "frozen"
]
PHASES: tuple[str, ...] = get_args(Phase)
# A rollout in one of these phases owns the endpoint: another deploy must not start.
ACTIVE_PHASES: frozenset[str] = frozenset({"progressing", "paused", "experimenting", "rolling_back"})

PREFIX = "modelcd:"
REVISION = PREFIX + "revision"
LEASE_OWNER = PREFIX + "lease-owner"
TAG_VALUE_MAX = 256
_TAG_VALUE = re.compile(r"^[A-Za-z0-9 _.:/=+\-@]*$")


@dataclass(frozen=True)
class RolloutState:
    """One rollout of `version` onto an endpoint that served `stable_version` (None: first deploy).

    `step_index` is the index of the next step to run (== number of steps completed); it equals
    `len(steps)` once every step passed and only finalizing remains. Times are epoch seconds.
    `window_start` is when traffic last changed: analyses read metrics from there.
    """

    model: str
    version: int
    image: str
    stable_version: int | None
    phase: Phase
    step_index: int
    steps_hash: str
    started_at: float
    step_started_at: float
    window_start: float
    git_sha: str = ""
    lease_owner: str = ""
    lease_expires_at: float = 0.0
    inconclusive: int = 0
    reason: str = ""
    evidence: str = ""  # the numbers behind the last analysis decision (cd.rollout.analysis.evidence_line)
    challengers: tuple[int, ...] = ()  # an experiment's other versions, beside `version` and stable
    # a challenger won the experiment, and this record rolls it out: the version git asked for that lost
    outvoted: int | None = None
    revision: int = 0  # bumped by every write; writes are compare-and-set on it (see `for_write`)

    @property
    def active(self) -> bool:
        return self.phase in ACTIVE_PHASES

    def leased_by_other(self, owner: str, now: float) -> bool:
        """True when another run holds an unexpired lease on an active rollout."""
        return (
            self.active
            and bool(self.lease_owner)
            and self.lease_owner != owner
            and self.lease_expires_at > now
        )

    def with_lease(self, owner: str, now: float, seconds: float) -> RolloutState:
        return replace(self, lease_owner=owner, lease_expires_at=round(now + seconds, 3))

    def released(self) -> RolloutState:
        return replace(self, lease_owner="", lease_expires_at=0.0)


_PLAIN = re.compile(r"[A-Za-z0-9 _.:/+\-@]")
_ESCAPED = re.compile(r"(?:=[0-9A-F]{2})+")


def tag_safe(text: str) -> str:
    """Free text (a reason) made fit for a tag value, reversibly: each character a tag cannot hold
    (`%`, `>`, `(`, non-ASCII, ...) and `=` itself become `=XX` per UTF-8 byte; cut at the tag limit
    without splitting a character. `tag_text` gives the text back."""
    out: list[str] = []
    size = 0
    for ch in text:
        piece = ch if _PLAIN.fullmatch(ch) else "".join(f"={b:02X}" for b in ch.encode("utf-8"))
        if size + len(piece) > TAG_VALUE_MAX:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out)


def tag_text(value: str) -> str:
    """The text `tag_safe` encoded."""
    return _ESCAPED.sub(
        lambda m: bytes.fromhex(m.group(0).replace("=", "")).decode("utf-8", errors="replace"), value
    )


def _fmt_float(value: float) -> str:
    return repr(round(float(value), 3))


def encode(state: RolloutState) -> dict[str, str]:
    """The record as tag key/values. Raises RolloutError if a value cannot be a tag value."""
    fields = {
        "model": state.model,
        "version": str(state.version),
        "image": state.image,
        "stable-version": "" if state.stable_version is None else str(state.stable_version),
        "phase": state.phase,
        "step": str(state.step_index),
        "steps-hash": state.steps_hash,
        "started": _fmt_float(state.started_at),
        "step-started": _fmt_float(state.step_started_at),
        "window-start": _fmt_float(state.window_start),
        "git-sha": state.git_sha,
        "lease-owner": state.lease_owner,
        "lease-expires": _fmt_float(state.lease_expires_at),
        "inconclusive": str(state.inconclusive),
        "reason": tag_safe(state.reason),
        "evidence": tag_safe(state.evidence),
        "challengers": " ".join(str(v) for v in state.challengers),
        "outvoted": "" if state.outvoted is None else str(state.outvoted),
        "revision": str(state.revision),
    }
    for key, value in fields.items():
        if len(value) > TAG_VALUE_MAX or not _TAG_VALUE.match(value):
            raise RolloutError(
                f"rollout record field {key!r} = {value!r} cannot be stored as a SageMaker tag "
                f"(at most {TAG_VALUE_MAX} characters from A-Z a-z 0-9 space _ . : / = + - @)"
            )
    return {PREFIX + key: value for key, value in fields.items()}


def decode(record: Mapping[str, str]) -> RolloutState | None:
    """The rollout state from a record (tags); None when the endpoint carries no record."""
    if PREFIX + "phase" not in record:
        return None

    def get(key: str) -> str:
        try:
            return record[PREFIX + key]
        except KeyError:
            raise RolloutError(f"rollout record is missing tag {PREFIX + key!r}") from None

    def num(key: str, kind: type[int] | type[float]) -> float:
        try:
            return kind(get(key))
        except ValueError:
            raise RolloutError(f"rollout record tag {PREFIX + key!r} is not a number: {get(key)!r}") from None

    phase = get("phase")
    if phase not in PHASES:
        raise RolloutError(f"rollout record tag {PREFIX}phase has unknown value {phase!r}")
    stable = get("stable-version")
    return RolloutState(
        model=get("model"),
        version=int(num("version", int)),
        image=get("image"),
        stable_version=int(stable) if stable else None,
        phase=phase,  # type: ignore[arg-type]
        step_index=int(num("step", int)),
        steps_hash=get("steps-hash"),
        started_at=num("started", float),
        step_started_at=num("step-started", float),
        window_start=num("window-start", float),
        git_sha=get("git-sha"),
        lease_owner=get("lease-owner"),
        lease_expires_at=num("lease-expires", float),
        inconclusive=int(num("inconclusive", int)),
        reason=tag_text(record.get(PREFIX + "reason", "")),
        evidence=tag_text(record.get(PREFIX + "evidence", "")),
        challengers=_versions(record, "challengers"),
        outvoted=next(iter(_versions(record, "outvoted")), None),
        revision=int(revision_of(record)) if revision_of(record).isdigit() else 0,
    )


def _versions(record: Mapping[str, str], key: str) -> tuple[int, ...]:
    """Versions kept in one tag, space-separated (records written before the tag existed hold none)."""
    text = record.get(PREFIX + key, "")
    try:
        return tuple(int(v) for v in text.split())
    except ValueError:
        raise RolloutError(f"rollout record tag {PREFIX}{key} is not a list of versions: {text!r}") from None


def revision_of(record: Mapping[str, str]) -> str:
    """The record's revision as stored ("0" for an endpoint that never had one)."""
    return record.get(REVISION) or "0"


def for_write(state: RolloutState, observed: Mapping[str, str]) -> tuple[dict[str, str], str]:
    """The tags that replace the `observed` record with `state`, and the revision the write expects
    (compare-and-set): the observed revision, which the new record bumps by one."""
    current = revision_of(observed)
    base = int(current) if current.isdigit() else 0
    return encode(replace(state, revision=base + 1)), current

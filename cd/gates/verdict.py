"""The gate verdict: frozen values and their versioned JSON layout (see docs/gate-verdict.md)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cd.config.model import ChangeThreshold, ValueThreshold
from cd.errors import GateError
from cd.gates.importance import Importance, importance_from_dict
from cd.gates.thresholds import Estimate, Outcome, VerdictOutcome

SCHEMA = "modelcd/gate-verdict"
SCHEMA_VERSION = 1

GateStatus = Literal["unchanged", "changed_in_pr", "new_in_pr"]


@dataclass(frozen=True)
class ModelVersionInfo:
    name: str  # registered model name
    version: int
    run_id: str | None
    source: str
    sha256: str  # over the model's artifact files: later steps deploy exactly what was judged


@dataclass(frozen=True)
class DatasetInfo:
    uri: str
    sha256: str
    rows: int
    label: str
    pinned: bool  # the gate pins this sha256
    changed_in_pr: bool = False  # a repo-path dataset that the PR modifies


@dataclass(frozen=True)
class GateSource:
    path: str  # repo-relative gate file
    ref: str  # the ref the gate was read from (the base, unless the gate is new)
    commit: str
    status: GateStatus
    decision: str
    confidence: float
    resamples: int
    seed: int
    min_examples: int
    first_deploy: str
    sha256: str = ""  # of the gate file's bytes as judged
    interval: str = "bca"  # bca | percentile
    multiplicity: str = "holm"  # holm | bh | none
    alpha: float = 0.025  # one-sided level of a fail: (1 - confidence) / 2, controlled as `multiplicity` says
    min_positives: int = 0
    min_negatives: int = 0


@dataclass(frozen=True)
class CheckResult:
    metric: str
    higher_is_better: bool | None
    slice_spec: str  # "overall", "plan", "plan x region"
    slice: str  # "overall", "plan=premium", ...
    examples: int
    candidate: Estimate
    incumbent: Estimate | None
    delta: Estimate | None  # candidate - incumbent, with a paired-bootstrap interval
    value_threshold: ValueThreshold | None
    change_threshold: ChangeThreshold | None
    allowed_delta: float | None
    outcome: Outcome
    reasons: tuple[str, ...]
    positives: int | None = None  # binary tasks: positive rows in the group
    value_outcome: Outcome | None = None  # the value threshold's part of the outcome
    p_worse: float | None = None  # one-sided p-value of the fail test (confident mode)
    p_adjusted: float | None = None  # after the gate's multiplicity control
    mde: float | None = None  # minimum detectable effect at 80% power (see cd.gates.family)


@dataclass(frozen=True)
class GateVerdict:
    verdict: VerdictOutcome
    environment: str
    model: str
    task: str
    candidate: ModelVersionInfo
    incumbent: ModelVersionInfo | None
    dataset: DatasetInfo
    gate: GateSource
    checks: tuple[CheckResult, ...]
    notes: tuple[str, ...] = ()
    importance: Importance | None = None  # permutation importance (None: not computed)
    # the candidate is one of the environment's `challengers` in an experiment (not its `version`)
    challenger: bool = False

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def checks_with(self, outcome: Outcome) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.outcome == outcome)

    def summary(self) -> str:
        inc = f"v{self.incumbent.version}" if self.incumbent else "no incumbent"
        counts = ", ".join(
            f"{len(self.checks_with(o))} {o}"
            for o in ("fail", "inconclusive", "underpowered", "pass", "skipped", "undefined")
            if self.checks_with(o)
        )
        role = " (challenger)" if self.challenger else ""
        return (
            f"{self.model} v{self.candidate.version}{role} vs {inc} in {self.environment} "
            f"({counts or 'no checks'})"
        )

    def headline(self) -> str:
        return f"{self.verdict.upper()}: {self.summary()}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "verdict": self.verdict,
            "summary": self.summary(),
            "environment": self.environment,
            "model": self.model,
            "task": self.task,
            "candidate": _plain(self.candidate),
            "incumbent": _plain(self.incumbent) if self.incumbent else None,
            "dataset": _plain(self.dataset),
            "gate": _plain(self.gate),
            "notes": list(self.notes),
            "checks": [_check_dict(c) for c in self.checks],
            **({"importance": self.importance.to_dict()} if self.importance is not None else {}),
            **({"challenger": True} if self.challenger else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"


def _number(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) else float(x)


def _plain(obj: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(obj).items()}


def _estimate_dict(e: Estimate | None) -> dict[str, float | None] | None:
    if e is None:
        return None
    return {
        "value": _number(e.value),
        "ci_low": _number(e.low),
        "ci_high": _number(e.high),
        "undefined_resamples": e.undefined_resamples,
        "se": _number(e.se),
    }


def _check_dict(c: CheckResult) -> dict[str, Any]:
    return {
        "metric": c.metric,
        "higher_is_better": c.higher_is_better,
        "slice_spec": c.slice_spec,
        "slice": c.slice,
        "examples": c.examples,
        "positives": c.positives,
        "candidate": _estimate_dict(c.candidate),
        "incumbent": _estimate_dict(c.incumbent),
        "delta": _estimate_dict(c.delta),
        "thresholds": {
            "value": None
            if c.value_threshold is None
            else {"min": c.value_threshold.min, "max": c.value_threshold.max},
            "change": None
            if c.change_threshold is None
            else {"absolute": c.change_threshold.absolute, "relative": c.change_threshold.relative},
            "allowed_delta": _number(c.allowed_delta),
        },
        "p_worse": _number(c.p_worse),
        "p_adjusted": _number(c.p_adjusted),
        "mde": _number(c.mde),
        "outcome": c.outcome,
        "reasons": list(c.reasons),
    }


# ------------------------------------------------------------------------------------- reading back


def _estimate(d: Mapping[str, Any] | None) -> Estimate | None:
    if d is None:
        return None
    value = d["value"]
    return Estimate(
        math.nan if value is None else float(value),
        d.get("ci_low"),
        d.get("ci_high"),
        int(d.get("undefined_resamples", 0)),
        d.get("se"),
    )


def verdict_from_dict(data: Mapping[str, Any]) -> GateVerdict:
    """Parse a verdict written by `to_dict`; GateError for another schema or version."""
    if data.get("schema") != SCHEMA or data.get("schema_version") != SCHEMA_VERSION:
        raise GateError(
            f"not a gate verdict this version understands: schema={data.get('schema')!r} "
            f"schema_version={data.get('schema_version')!r} (expected {SCHEMA!r} {SCHEMA_VERSION})"
        )
    checks = []
    for c in data["checks"]:
        t = c["thresholds"]
        checks.append(
            CheckResult(
                metric=c["metric"],
                higher_is_better=c["higher_is_better"],
                slice_spec=c["slice_spec"],
                slice=c["slice"],
                examples=c["examples"],
                candidate=_estimate(c["candidate"]) or Estimate(math.nan),
                incumbent=_estimate(c["incumbent"]),
                delta=_estimate(c["delta"]),
                value_threshold=None if t["value"] is None else ValueThreshold(**t["value"]),
                change_threshold=None if t["change"] is None else ChangeThreshold(**t["change"]),
                allowed_delta=t["allowed_delta"],
                outcome=c["outcome"],
                reasons=tuple(c["reasons"]),
                positives=c.get("positives"),
                p_worse=c.get("p_worse"),
                p_adjusted=c.get("p_adjusted"),
                mde=c.get("mde"),
            )
        )
    return GateVerdict(
        verdict=data["verdict"],
        environment=data["environment"],
        model=data["model"],
        task=data["task"],
        candidate=ModelVersionInfo(**data["candidate"]),
        incumbent=ModelVersionInfo(**data["incumbent"]) if data["incumbent"] else None,
        dataset=DatasetInfo(**data["dataset"]),
        gate=GateSource(**data["gate"]),
        checks=tuple(checks),
        notes=tuple(data["notes"]),
        importance=importance_from_dict(data["importance"]) if data.get("importance") else None,
        challenger=bool(data.get("challenger", False)),
    )


def load_verdict(text: str) -> GateVerdict:
    try:
        return verdict_from_dict(json.loads(text))
    except (KeyError, TypeError, ValueError) as exc:
        raise GateError(f"malformed gate verdict JSON: {exc}") from exc

"""What the PR report reads: the planned changes (the plan's matrix JSON) and the gate verdict files.

The verdict layout is owned by the gates engine (`docs/gate-verdict.md`); this reader is defensive:
it needs only the environment, model and verdict, takes a summary and a markdown report when present,
and turns a missing or unreadable verdict into a result that says so (never a silent pass).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cd.errors import UsageError

Outcome = Literal["pass", "fail", "inconclusive", "error", "missing", "overridden"]


@dataclass(frozen=True)
class PlannedChange:
    env: str
    model: str
    change: str  # a `cd.plan.ChangeKind`
    from_version: int | None
    to_version: int | None

    @property
    def gated(self) -> bool:
        from cd.plan import GATED_KINDS

        return self.change in GATED_KINDS

    @property
    def key(self) -> str:
        return result_key(self.model, self.env, self.to_version if self.change == "challenger" else None)


def gate_name(model: str, challenger: int | None = None) -> str:
    """Whose gate: `model`, or `model vN` for a challenger, one more version judged for the same model
    and environment."""
    return model if challenger is None else f"{model} v{challenger}"


def result_key(model: str, env: str, challenger: int | None = None) -> str:
    """`churn@production`, what a gate's status check and override name; `churn v3@production` for a
    challenger."""
    return f"{gate_name(model, challenger)}@{env}"


@dataclass(frozen=True)
class Override:
    by: str
    reason: str
    at: str = ""
    url: str = ""


@dataclass(frozen=True)
class GateResult:
    env: str
    model: str
    outcome: Outcome
    summary: str
    report_markdown: str = ""
    candidate_version: int | None = None
    incumbent_version: int | None = None
    override: Override | None = None
    source: str = ""  # the verdict file read
    challenger: bool = False  # the candidate is a challenger in an experiment

    @property
    def key(self) -> str:
        return result_key(self.model, self.env, self.candidate_version if self.challenger else None)

    @property
    def passed(self) -> bool:
        return self.outcome in ("pass", "overridden")


def _optional_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_matrix(data: Any, source: str = "plan") -> tuple[PlannedChange, ...]:
    """`{"include": [{"env","model","from","to","change"}, ...]}` -> planned changes."""
    rows = data.get("include") if isinstance(data, Mapping) else None
    if not isinstance(rows, list):
        raise UsageError(f"{source}: expected a plan matrix {{'include': [...]}}")
    changes = []
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping) or not row.get("env") or not row.get("model"):
            raise UsageError(f"{source}: include[{index}] needs 'env' and 'model'")
        changes.append(
            PlannedChange(
                env=str(row["env"]),
                model=str(row["model"]),
                change=str(row.get("change", "promoted")),
                from_version=_optional_int(row.get("from")),
                to_version=_optional_int(row.get("to")),
            )
        )
    return tuple(changes)


def read_matrix_file(path: Path) -> tuple[PlannedChange, ...]:
    try:
        return parse_matrix(json.loads(path.read_text(encoding="utf-8")), str(path))
    except OSError as exc:
        raise UsageError(f"cannot read the plan {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}: the plan is not valid JSON: {exc.msg}") from exc


def _first(data: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in data and data[key] is not None:
            return data[key]
    return None


def _version_of(value: Any) -> int | None:
    if isinstance(value, Mapping):
        return _optional_int(_first(value, "version", "model_version"))
    return _optional_int(value)


def _outcome_of(raw: Any) -> Outcome:
    text = str(raw or "").lower()
    if text in ("pass", "passed", "success", "ok"):
        return "pass"
    if text in ("fail", "failed", "failure"):
        return "fail"
    if text == "inconclusive":
        return "inconclusive"
    return "error"


def parse_override(raw: Any) -> Override | None:
    if not isinstance(raw, Mapping) or not raw.get("by"):
        return None
    return Override(
        by=str(raw["by"]),
        reason=str(raw.get("reason", "")),
        at=str(raw.get("at", "")),
        url=str(raw.get("url", "")),
    )


def parse_verdict(data: Mapping[str, Any], source: str, report_markdown: str = "") -> GateResult:
    env = _first(data, "env", "environment")
    model = _first(data, "model", "model_name")
    if not env or not model:
        raise UsageError(f"{source}: a gate verdict needs 'env' (or 'environment') and 'model'")
    override = parse_override(data.get("override"))
    outcome = _outcome_of(_first(data, "verdict", "outcome", "status", "result"))
    summary = _first(data, "summary", "message", "reason")
    return GateResult(
        env=str(env),
        model=str(model),
        outcome="overridden" if override and outcome != "pass" else outcome,
        summary=str(summary) if summary else "",
        report_markdown=report_markdown,
        candidate_version=_version_of(_first(data, "candidate", "candidate_version")),
        incumbent_version=_version_of(_first(data, "incumbent", "incumbent_version")),
        override=override,
        source=source,
        challenger=bool(data.get("challenger", False)),
    )


def read_verdicts(directory: Path) -> dict[str, GateResult]:
    """Every `*.json` verdict under `directory` (recursively), by `model@env`; a `.md` beside it is its report."""
    results: dict[str, GateResult] = {}
    if not directory.is_dir():
        return results
    for path in sorted(directory.rglob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"{path}: unreadable gate verdict: {exc}") from exc
        if not isinstance(data, Mapping) or not (_first(data, "env", "environment") and "model" in data):
            continue  # not a verdict (e.g. a build record); the gate writes verdicts with env + model
        report = path.with_suffix(".md")
        markdown = report.read_text(encoding="utf-8") if report.is_file() else ""
        result = parse_verdict(data, str(path), markdown)
        results[result.key] = result
    return results


def results_for_plan(
    changes: Sequence[PlannedChange], verdicts: Mapping[str, GateResult]
) -> tuple[GateResult, ...]:
    """One result per gated change: its verdict, or `missing` when the gate produced none."""
    out = []
    for change in changes:
        if not change.gated:
            continue
        found = verdicts.get(change.key)
        out.append(
            found
            if found is not None
            else GateResult(
                env=change.env,
                model=change.model,
                outcome="missing",
                summary="the gate produced no verdict (see the gate job's log)",
                candidate_version=change.to_version,
                incumbent_version=change.from_version,
                challenger=change.change == "challenger",
            )
        )
    planned = {c.key for c in changes}
    out.extend(v for k, v in sorted(verdicts.items()) if k not in planned)
    return tuple(out)

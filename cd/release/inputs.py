"""Gather what a release needs: model card, verdict, build record, plan entry, PR approvals.

Pure builders (`model_card`, `approvals_from_reviews`) plus `gather_inputs`, the edge that reads the
repository, files, the registry and GitHub."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cd.config.model import Gate, ModelSpec
from cd.errors import ReleaseError
from cd.release.model import Approval, ModelCard, ReleaseInputs

SETTLED_REVIEW_STATES = ("APPROVED", "CHANGES_REQUESTED", "DISMISSED")


@dataclass(frozen=True)
class RegistryFacts:
    """What the registry says about the version (cd.registry.ModelVersionRef has these fields)."""

    run_id: str | None
    source: str
    sha256: str
    params: Mapping[str, str]
    metrics: Mapping[str, float]


def model_card(
    model: str,
    version: int,
    spec: ModelSpec | None,
    registry: RegistryFacts | None,
    build_record: Mapping[str, Any],
    gate: Gate | None,
    verdict: Mapping[str, Any] | None = None,
) -> ModelCard:
    data = {}
    if gate is not None and gate.dataset.sha256:
        data[gate.dataset.uri] = gate.dataset.sha256
    return ModelCard(
        model=model,
        version=version,
        registered_model=spec.registered_model if spec else str(build_record.get("registered_model", model)),
        task=str(spec.task) if spec else "",
        description=spec.description if spec else "",
        owners=spec.owners if spec else (),
        inputs=tuple((c.name, str(c.type)) for c in spec.inputs) if spec else (),
        run_id=registry.run_id if registry else build_record.get("run_id"),
        source=registry.source if registry else build_record.get("model_source"),
        model_sha256=registry.sha256 if registry else build_record.get("model_sha256"),
        params=dict(registry.params) if registry else {},
        metrics=dict(registry.metrics) if registry else {},
        data_sha256=data,
        gate=gate_headline(verdict) if verdict else (),
        importance_metric=str((verdict or {}).get("importance", {}).get("metric", "")),
        importance=importance_table(verdict) if verdict else (),
        shap=shap_table(verdict) if verdict else (),
        gate_verdict=f"{str(verdict.get('verdict', '')).upper()} in {verdict.get('environment')}"
        if verdict
        else "",
    )


def importance_table(verdict: Mapping[str, Any]) -> tuple[tuple[str, str, str, str], ...]:
    """The verdict's top features overall: (feature, candidate, incumbent, shift); empty if not computed."""
    from cd.gates.importance import importance_from_dict, top_rows

    if not verdict.get("importance"):
        return ()
    return _feature_table(
        (r.feature, r.candidate, r.incumbent) for r in top_rows(importance_from_dict(verdict["importance"]))
    )


def shap_table(verdict: Mapping[str, Any]) -> tuple[tuple[str, str, str, str], ...]:
    """The verdict's top features by mean |SHAP value|, like `importance_table`; empty if not computed."""
    from cd.gates.explain import shap_from_dict

    found = (verdict.get("importance") or {}).get("shap")
    return _feature_table(shap_from_dict(found).top()) if found else ()


def _feature_table(rows: Iterable[tuple[str, float, float | None]]) -> tuple[tuple[str, str, str, str], ...]:
    return tuple(
        (
            feature,
            f"{candidate:.4f}",
            "–" if incumbent is None else f"{incumbent:.4f}",
            "–" if incumbent is None else f"{candidate - incumbent:+.4f}",
        )
        for feature, candidate, incumbent in rows
    )


def gate_headline(verdict: Mapping[str, Any]) -> tuple[tuple[str, str, str, str], ...]:
    """The verdict's checks on the whole dataset: (metric, candidate, incumbent, outcome)."""
    from cd.release.notes import estimate_cell

    return tuple(
        (
            str(c["metric"]),
            estimate_cell(c.get("candidate")),
            estimate_cell(c.get("incumbent")),
            str(c["outcome"]),
        )
        for c in verdict.get("checks") or ()
        if isinstance(c, Mapping) and c.get("slice") == "overall" and "metric" in c and "outcome" in c
    )


def approvals_from_reviews(
    reviews: Sequence[tuple[str, str, str]], author: str, head_sha: str
) -> tuple[Approval, ...]:
    """The latest settled review (approved / changes requested / dismissed) per reviewer, as GitHub
    counts them; the author's own reviews never count. REVIEWS are (user, state, commit_id), oldest first."""
    latest: dict[str, tuple[str, str]] = {}
    for user, state, commit_id in reviews:
        if user == author or state not in SETTLED_REVIEW_STATES:
            continue
        latest[user] = (state, commit_id)
    return tuple(
        Approval(user=user, state=state, commit_id=commit_id, on_head=commit_id == head_sha)
        for user, (state, commit_id) in sorted(latest.items())
    )


def read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ReleaseError(f"{what} {path} does not exist") from None
    except ValueError as exc:
        raise ReleaseError(f"{what} {path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ReleaseError(f"{what} {path}: expected a JSON object, got {type(data).__name__}")
    return data


def run_url(env: Mapping[str, str]) -> str:
    """The Actions run URL from GITHUB_SERVER_URL, GITHUB_REPOSITORY and GITHUB_RUN_ID ("" outside Actions)."""
    parts = [env.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    return f"{parts[0]}/{parts[1]}/actions/runs/{parts[2]}" if all(parts) else ""


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ReleaseRequest:
    """The command line's arguments, as the library sees them."""

    root: Path
    model: str
    version: int
    target: str
    environment: str | None = None
    bento: Path | None = None
    verdict: Path | None = None
    report: Path | None = None
    build_record: Path | None = None
    base: str | None = None
    registry_uri: str | None = None  # None: do not consult the registry (the build record's facts are used)


def gather_inputs(
    request: ReleaseRequest,
    approvals: tuple[Approval, ...] = (),
    pull_number: int | None = None,
    gate_override: Mapping[str, str] | None = None,
) -> ReleaseInputs:
    from cd.config import load_repo

    config = load_repo(request.root)
    spec = config.models.get(request.model)
    if spec is None:
        known = ", ".join(sorted(config.models)) or "none"
        raise ReleaseError(f"release: no model {request.model!r} under models/ (known: {known})")
    record = read_json(request.build_record, "build record") if request.build_record else {}
    bento = request.bento
    if bento is None and request.build_record is not None and record.get("bento_archive"):
        bento = request.build_record.parent / str(record["bento_archive"])
    verdict = read_json(request.verdict, "gate verdict") if request.verdict else None
    check_custody(request, spec, record, verdict, bento, overridden=gate_override is not None)
    facts = _registry_facts(request.registry_uri, spec.registered_model, request.version)
    return ReleaseInputs(
        model=request.model,
        version=request.version,
        target_commit=request.target,
        card=model_card(
            request.model, request.version, spec, facts, record, config.gates.get(request.model), verdict
        ),
        environment=request.environment,
        verdict=verdict,
        verdict_path=request.verdict,
        report_path=request.report,
        bento_path=bento,
        build_record=record,
        build_record_path=request.build_record,
        plan_entry=_plan_entry(request),
        approvals=approvals,
        pull_number=pull_number,
        gate_override=gate_override,
        run_url=run_url(os.environ),
        now=now_iso(),
    )


def check_custody(
    request: ReleaseRequest,
    spec: ModelSpec,
    record: Mapping[str, Any],
    verdict: Mapping[str, Any] | None,
    bento: Path | None,
    *,
    overridden: bool,
) -> None:
    """Refuse to publish what is not the version asked for, or not what its gate judged and passed."""
    from cd.custody import Identity, build_matches_verdict, build_record_problems, refuse, verdict_problems
    from cd.files import file_sha256

    wanted = Identity(request.model, spec.registered_model, request.version)
    problems = []
    if request.build_record is not None:
        problems += build_record_problems(record, wanted, f"build record {request.build_record}")
    if verdict is not None:
        where = f"gate verdict {request.verdict}"
        problems += verdict_problems(verdict, wanted, request.environment, where, overridden=overridden)
        if record:
            problems += build_matches_verdict(record, verdict, f"build record {request.build_record}")
    if bento is not None and record.get("bento_sha256") and bento.is_file():
        actual = file_sha256(bento)
        if actual != record["bento_sha256"]:
            problems.append(
                f"{bento}: sha256 {actual[:12]}…, but the build record says {str(record['bento_sha256'])[:12]}…"
            )
    refuse(problems)


def _registry_facts(uri: str | None, registered_model: str, version: int) -> RegistryFacts | None:
    if uri is None:
        return None
    from cd.registry import Registry

    ref = Registry(uri).resolve(registered_model, version)
    return RegistryFacts(ref.run_id, ref.source, ref.sha256, ref.params, ref.metrics)


def _plan_entry(request: ReleaseRequest) -> str | None:
    if request.base is None:
        return None
    from cd.plan import plan_between_refs

    plan = plan_between_refs(request.root, request.base, request.target)
    lines = [
        f"{c.env}: {c.describe()}"
        for c in plan.changes
        if c.model == request.model and (request.environment is None or c.env == request.environment)
    ]
    return (
        "; ".join(lines)
        or f"no change to {request.model} between {request.base[:12]} and {request.target[:12]}"
    )

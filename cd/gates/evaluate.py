"""Orchestration: which gate, which versions, which rows; then the pure evaluation and the verdict.

Integrity: the gate is read from the BASE ref, so a pull request cannot lower its own bar. When the
PR changes the gate file, the verdict says so prominently and still judges by the base version. A
gate file that is new in the PR is used from the head and flagged "new gate, needs review".
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from cd.config.model import DatasetSpec, Gate, IntervalMethod, ModelSpec, RepoConfig
from cd.errors import GateError
from cd.gates.bootstrap import bootstrap
from cd.gates.family import FamilyPolicy, control
from cd.gates.importance import Importance
from cd.gates.intervals import Bootstrapped, bootstrapped, jackknife_counts
from cd.gates.metrics import BinaryKernel, FloatArray, Kernel, MulticlassKernel, RegressionKernel, metric_info
from cd.gates.scoring import Predictions
from cd.gates.slicing import OVERALL, Partition, partitions
from cd.gates.thresholds import CheckInput, Estimate, decide, overall_verdict
from cd.gates.verdict import CheckResult, DatasetInfo, GateSource, GateStatus, GateVerdict, ModelVersionInfo

if TYPE_CHECKING:
    import pandas as pd

    from cd.registry import ModelVersionRef, Registry


# ------------------------------------------------------------------------------ pure evaluation


def make_kernel(predictions: Predictions, partition: Partition) -> Kernel:
    groups = [g.rows for g in partition.groups]
    if predictions.task == "binary_classification":
        return BinaryKernel(predictions.truth, predictions.predicted, groups)
    if predictions.task == "multiclass_classification":
        return MulticlassKernel(predictions.truth, predictions.predicted, groups)
    if predictions.task == "regression":
        return RegressionKernel(predictions.truth, predictions.predicted, groups)
    raise GateError(f"unknown task {predictions.task!r}")


def make_kernels(
    models: Sequence[Predictions], parts: Sequence[Partition], workers: int | None = None
) -> list[Kernel]:
    """A kernel per (model, partition), model-major; prepared on `workers` threads (the sorts and
    gathers release the GIL)."""
    pairs = [(m, p) for m in models for p in parts]
    workers = workers or min(2, os.cpu_count() or 1)
    if workers > 1 and len(pairs) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda pair: make_kernel(*pair), pairs))
    return [make_kernel(m, p) for m, p in pairs]


@dataclass(frozen=True)
class _Values:
    point: dict[str, FloatArray]  # metric -> (groups,)
    samples: dict[str, FloatArray]  # metric -> (groups, resamples)
    jackknife: dict[str, FloatArray]  # metric -> (groups, jackknife groups)


def _estimate(stat: Bootstrapped, confidence: float, method: IntervalMethod) -> Estimate:
    """The point value, the interval (BCa or percentile) and standard error of the resamples that
    define the metric (the others counted)."""
    if stat.samples.size == 0 and stat.undefined == 0:
        return Estimate(stat.point)
    low, high = stat.interval(confidence, method)
    se = stat.se
    return Estimate(stat.point, low, high, stat.undefined, None if math.isnan(se) else se)


def _stat(values: _Values, metric: str, g: int) -> Bootstrapped:
    samples = values.samples.get(metric)
    jack = values.jackknife.get(metric)
    return bootstrapped(
        values.point[metric][g], None if samples is None else samples[g], None if jack is None else jack[g]
    )


def _difference(cand: _Values, inc: _Values, metric: str, g: int) -> Bootstrapped:
    """candidate - incumbent, resample by resample (paired) and jackknife by jackknife."""
    point = cand.point[metric][g] - inc.point[metric][g]
    cs, ins = cand.samples.get(metric), inc.samples.get(metric)
    cj, ij = cand.jackknife.get(metric), inc.jackknife.get(metric)
    samples = None if cs is None or ins is None else cs[g] - ins[g]
    jack = None if cj is None or ij is None else cj[g] - ij[g]
    return bootstrapped(point, samples, jack)


# Binary metrics whose value rests on the positives (and, for AUC, on the negatives too): a group
# needs `min_positives` (`min_negatives`) of them. Multiclass per-class metrics need `min_positives`
# rows of the rarest class. Other metrics (accuracy, log loss, Brier, ECE, regression) count rows only.
NEEDS_MIN_POSITIVES = frozenset({"roc_auc", "pr_auc", "precision", "recall", "f1"})
NEEDS_MIN_NEGATIVES = frozenset({"roc_auc"})
PER_CLASS = frozenset({"macro_f1", "weighted_f1"})


def class_counts_rule(
    task: str, metric: str, truth: NDArray[Any], rows: NDArray[np.intp], gate: Gate
) -> tuple[int | None, str | None]:
    """The group's positives (binary), and why it has too few of a class for `metric` (or None)."""
    labels = truth[rows]
    if task == "binary_classification":
        positives = int(np.count_nonzero(labels))
        negatives = len(rows) - positives
        if metric in NEEDS_MIN_POSITIVES and 0 < positives < gate.min_positives:
            return positives, f"{positives} positives < min_positives {gate.min_positives}"
        if metric in NEEDS_MIN_NEGATIVES and 0 < negatives < gate.min_negatives:
            return positives, f"{negatives} negatives < min_negatives {gate.min_negatives}"
        return positives, None
    if task == "multiclass_classification" and metric in PER_CLASS and len(rows):
        _, counts = np.unique(labels, return_counts=True)
        rarest = int(counts.min())
        if rarest < gate.min_positives:
            return None, f"rarest class has {rarest} rows < min_positives {gate.min_positives}"
    return None, None


# Binary metrics that no model can have on a group without positives (or negatives).
NEEDS_POSITIVES = frozenset({"recall", "roc_auc", "pr_auc"})
NEEDS_NEGATIVES = frozenset({"roc_auc"})


def undefined_by_data(task: str, metric: str, truth: NDArray[Any], rows: NDArray[np.intp]) -> str | None:
    """Why the group's labels cannot define `metric` for any model, or None."""
    if task != "binary_classification":
        return None
    positives = int(np.count_nonzero(truth[rows]))
    if metric in NEEDS_POSITIVES and positives == 0:
        return f"the group's {len(rows)} rows have no positives"
    if metric in NEEDS_NEGATIVES and positives == len(rows):
        return f"the group's {len(rows)} rows have no negatives"
    return None


def _applies(check_slices: tuple[str, ...] | None, spec: str) -> bool:
    return check_slices is None or spec in check_slices


def judge(
    gate: Gate,
    task: str,
    parts: Sequence[Partition],
    candidate: Predictions,
    incumbent: Predictions | None,
    n_rows: int,
) -> tuple[CheckResult, ...]:
    """Every check of the gate on every slice group it applies to. Pure: arrays in, results out."""
    for check in gate.metrics:
        metric_info(task, check.metric)
    models = [candidate] if incumbent is None else [candidate, incumbent]
    kernels = make_kernels(models, parts)
    ones = np.ones((1, n_rows), np.uint8)
    points = [{k: v[:, 0] for k, v in kernel.evaluate(ones).items()} for kernel in kernels]
    samples = bootstrap(kernels, n_rows, gate.bootstrap_resamples, gate.seed)
    jackknives = None
    if gate.interval == "bca" and gate.bootstrap_resamples > 0:
        jack = jackknife_counts(n_rows)
        jackknives = [k.evaluate(jack) for k in kernels]
    per_model = [
        [
            _Values(
                points[m * len(parts) + i],
                samples[m * len(parts) + i],
                jackknives[m * len(parts) + i] if jackknives else {},
            )
            for i in range(len(parts))
        ]
        for m in range(len(models))
    ]
    results: list[CheckResult] = []
    for check in gate.metrics:
        info = metric_info(task, check.metric)
        for i, part in enumerate(parts):
            if not _applies(check.slices, part.spec):
                continue
            for g, group in enumerate(part.groups):
                cand = per_model[0][i]
                cand_est = _estimate(_stat(cand, check.metric, g), gate.confidence, gate.interval)
                inc_est = delta_est = None
                if incumbent is not None:
                    inc = per_model[1][i]
                    inc_est = _estimate(_stat(inc, check.metric, g), gate.confidence, gate.interval)
                    delta_est = _estimate(
                        _difference(cand, inc, check.metric, g), gate.confidence, gate.interval
                    )
                positives, too_few = class_counts_rule(task, check.metric, candidate.truth, group.rows, gate)
                decision = decide(
                    CheckInput(
                        metric=check.metric,
                        higher_is_better=info.higher_is_better,
                        examples=group.size,
                        is_overall=part.spec == OVERALL,
                        candidate=cand_est,
                        incumbent=inc_est,
                        delta=delta_est,
                        value=check.value,
                        change=check.change,
                        undefined_by_data=undefined_by_data(task, check.metric, candidate.truth, group.rows),
                        too_few_of_a_class=too_few,
                    ),
                    mode=gate.decision,
                    min_examples=gate.min_examples,
                    first_deploy=gate.first_deploy,
                )
                results.append(
                    CheckResult(
                        metric=check.metric,
                        higher_is_better=info.higher_is_better,
                        slice_spec=part.spec,
                        slice=group.label,
                        examples=group.size,
                        candidate=cand_est,
                        incumbent=inc_est,
                        delta=delta_est,
                        value_threshold=check.value,
                        change_threshold=check.change,
                        allowed_delta=decision.allowed_delta,
                        outcome=decision.outcome,
                        reasons=decision.reasons,
                        positives=positives,
                        value_outcome=decision.value_outcome,
                        p_worse=decision.p_worse,
                    )
                )
    return control(results, family_policy(gate))


def family_policy(gate: Gate) -> FamilyPolicy:
    """The gate's multiplicity control, at the one-sided level of a fail: (1 - confidence) / 2."""
    return FamilyPolicy(gate.multiplicity, (1.0 - gate.confidence) / 2.0)


# ------------------------------------------------------------------------------ gate from the base


@dataclass(frozen=True)
class GateChoice:
    gate: Gate
    ref: str  # where it was read from
    status: GateStatus
    notes: tuple[str, ...]


def choose_gate(
    repo: Path, model: str, base: str, head: str | None, base_cfg: RepoConfig, head_cfg: RepoConfig
) -> GateChoice:
    """The base's gate (a PR cannot lower its own bar); the head's only when the gate is new."""
    from cd.gitrepo import read_file_at_ref

    base_gate, head_gate = base_cfg.gates.get(model), head_cfg.gates.get(model)
    if base_gate is not None:
        path = base_gate.path or f"gates/{model}.yaml"
        before = read_file_at_ref(repo, base, path)
        if head is None:
            after = (repo / path).read_bytes() if (repo / path).is_file() else None
        else:
            after = read_file_at_ref(repo, head, path)
        if after == before:
            return GateChoice(base_gate, base, "unchanged", ())
        what = "removed" if after is None else "changed"
        return GateChoice(
            base_gate,
            base,
            "changed_in_pr",
            (
                f"{path} is {what} by this pull request: judged by the base version ({base}); "
                "the gate change needs its own review",
            ),
        )
    if head_gate is not None:
        path = head_gate.path or f"gates/{model}.yaml"
        return GateChoice(
            head_gate,
            head or "working tree",
            "new_in_pr",
            (
                f"new gate, needs review: {path} does not exist at the base ({base}); judged by this PR's version",
            ),
        )
    raise GateError(f"no gate for model {model!r}: add gates/{model}.yaml")


# ------------------------------------------------------------------------------ the whole evaluation


def _version_info(ref: ModelVersionRef) -> ModelVersionInfo:
    return ModelVersionInfo(ref.name, ref.version, ref.run_id, ref.source, ref.sha256)


def predict(
    registry: Registry, ref: ModelVersionRef, frame: pd.DataFrame, spec: ModelSpec, gate: Gate, workdir: Path
) -> tuple[Predictions, Any]:
    """The version's predictions on the gate's rows, and the loaded model (for importance)."""
    from cd.gates.scoring import load_model, predict
    from cd.signature import signature_inputs, signature_mismatch

    local = registry.download(ref.name, ref.version, workdir / f"v{ref.version}", expected_sha256=ref.sha256)
    mismatch = signature_mismatch(spec, signature_inputs(local), f"model {ref.name!r} version {ref.version}")
    if mismatch is not None:
        raise GateError(mismatch)
    model = load_model(local)
    predictions = predict(
        model,
        frame[list(spec.input_names)],
        frame[gate.dataset.label],
        spec.task,
        [c.metric for c in gate.metrics],
        who=f"model {ref.name!r} version {ref.version}",
        positive_label=gate.dataset.positive_label,
    )
    return predictions, model


def scorer(model: Any, predictions: Predictions, gate: Gate) -> Callable[[pd.DataFrame], FloatArray] | None:
    """The score the gate judges (P(positive) for binary, the value for regression) as a function of the
    features, for permutation importance; None for multiclass models."""
    from cd.gates.scoring import positive_class

    if predictions.task == "regression":
        return lambda X: np.asarray(model.predict(X), dtype=np.float64).reshape(len(X))
    if predictions.task != "binary_classification" or not hasattr(model, "predict_proba"):
        return None
    classes = list(predictions.classes)
    column = classes.index(positive_class(classes, gate.dataset.positive_label, "importance"))
    return lambda X: np.asarray(model.predict_proba(X), dtype=np.float64)[:, column]


def _importance(
    gate: Gate,
    spec: ModelSpec,
    frame: pd.DataFrame,
    parts: Sequence[Partition],
    cand_pred: Predictions,
    cand_model: Any,
    inc_pred: Predictions | None,
    inc_model: Any,
) -> Importance | None:
    """Permutation importance of both versions (None when the gate turns it off or the task has none),
    with their SHAP values where the gate asks for them."""
    from cd.gates.explain import compute_shap
    from cd.gates.importance import compute_importance

    if gate.importance_rows <= 0:
        return None
    candidate = scorer(cand_model, cand_pred, gate)
    incumbent = scorer(inc_model, inc_pred, gate) if inc_pred is not None else None
    if candidate is None:
        return None
    features = frame[list(spec.input_names)]
    shap = (
        compute_shap(
            candidate,
            incumbent,
            features,
            rows=gate.shap_rows,
            background=gate.shap_background,
            seed=gate.seed,
        )
        if gate.shap_rows > 0
        else None
    )
    permutation = compute_importance(
        candidate,
        incumbent,
        features,
        cand_pred.truth,
        parts,
        spec.task,
        gate.metrics[0].metric,
        rows=gate.importance_rows,
        repeats=gate.importance_repeats,
        seed=gate.seed,
        min_rows=gate.min_examples,
    )
    return replace(permutation, shap=shap)


@dataclass(frozen=True)
class DatasetBytes:
    """The evaluation rows' bytes, and where they were read from."""

    data: bytes
    changed_in_pr: bool
    notes: tuple[str, ...]


def gate_dataset(repo: Path, base: str, head: str | None, spec: DatasetSpec) -> DatasetBytes:
    """The dataset as the BASE has it, so a PR cannot change the rows that judge it. A repository file
    that is new in the PR is read from the head and flagged; one the PR changes is judged at the base
    and flagged. An `s3://` object is read as it is (validation requires its sha256 pin)."""
    from cd.gates.dataset import read_bytes
    from cd.gitrepo import read_file_at_ref

    if spec.uri.startswith("s3://"):
        return DatasetBytes(read_bytes(spec.uri, repo), False, ())
    before = read_file_at_ref(repo, base, spec.uri)
    if head is None:
        after = (repo / spec.uri).read_bytes() if (repo / spec.uri).is_file() else None
    else:
        after = read_file_at_ref(repo, head, spec.uri)
    if before is None:
        if after is None:
            raise GateError(
                f"dataset {spec.uri}: not in git at the base ({base}) or the head; commit it (CI sees only git)"
            )
        note = f"dataset {spec.uri} is new in this pull request: judged with its version, which needs review"
        return DatasetBytes(after, True, (note,))
    if after is not None and after != before:
        note = (
            f"dataset {spec.uri} is changed by this pull request: judged with the base's version ({base}); "
            "the data change needs its own review"
        )
        return DatasetBytes(before, True, (note,))
    return DatasetBytes(before, False, ())


def model_spec_notes(model: str, base_spec: ModelSpec | None, head_spec: ModelSpec | None) -> tuple[str, ...]:
    """A PR that edits models/<m>/model.yaml is judged by the base's version; say what it changes."""
    if base_spec is None or head_spec is None:
        return ()
    changed = [
        f"{field} {getattr(base_spec, field)!r} -> {getattr(head_spec, field)!r}"
        for field in ("registered_model", "task")
        if getattr(base_spec, field) != getattr(head_spec, field)
    ]
    if base_spec.inputs != head_spec.inputs:
        changed.append("inputs")
    if not changed:
        return ()
    return (
        f"models/{model}/model.yaml is changed by this pull request ({'; '.join(changed)}): judged by the "
        "base's version; the change needs its own review, and a build of another registered model will not "
        "match this verdict",
    )


def evaluate_promotion(
    repo: Path,
    environment: str,
    model: str,
    base: str,
    head: str | None,
    registry: Registry,
    version: int | None = None,
) -> GateVerdict:
    """Judge the version of `model` in `environment` at `head` (None: the working tree), or `version`,
    one of the versions it asks for there (`version` or a challenger), against the version at `base`,
    by the gate at `base`."""
    from cd.config import load_repo, load_repo_at_ref
    from cd.gates.dataset import load_dataset

    base_cfg = load_repo_at_ref(repo, base)
    head_cfg = load_repo(repo) if head is None else load_repo_at_ref(repo, head)
    head_env = head_cfg.environments.get(environment)
    if head_env is None:
        raise GateError(
            f"no environment {environment!r} at {head or 'the working tree'} (environments/{environment}.yaml)"
        )
    deployment = head_env.models.get(model)
    if deployment is None:
        raise GateError(f"environment {environment!r} has no model {model!r} at {head or 'the working tree'}")
    candidate_version = deployment.version if version is None else version
    if candidate_version not in deployment.versions:
        asked = ", ".join(f"v{v}" for v in deployment.versions)
        raise GateError(
            f"{head_env.path}: {model} in {environment} at {head or 'the working tree'} asks for {asked}, "
            f"not v{candidate_version}: the gate judges what git asks for"
        )
    base_env = base_cfg.environments.get(environment)
    base_deployment = base_env.models.get(model) if base_env else None

    choice = choose_gate(repo, model, base, head, base_cfg, head_cfg)
    gate = choice.gate
    spec = base_cfg.models.get(model) or head_cfg.models.get(model)
    if spec is None:
        raise GateError(f"no model spec for {model!r}: add models/{model}/model.yaml")

    dataset = gate_dataset(repo, base, head, gate.dataset)
    data = load_dataset(gate.dataset, repo, spec.inputs, spec.task, data=dataset.data)
    candidate_ref = registry.resolve(spec.registered_model, candidate_version)
    incumbent_ref = (
        registry.resolve(spec.registered_model, base_deployment.version) if base_deployment else None
    )

    with tempfile.TemporaryDirectory(prefix="modelcd-gate-") as tmp:
        workdir = Path(tmp)
        cand_pred, cand_model = predict(registry, candidate_ref, data.frame, spec, gate, workdir)
        inc_pred, inc_model = None, None
        if incumbent_ref is not None:
            same = incumbent_ref.version == candidate_ref.version
            inc_pred, inc_model = (
                (cand_pred, cand_model)
                if same
                else predict(registry, incumbent_ref, data.frame, spec, gate, workdir)
            )

    parts = partitions(data.frame, gate.slices)
    importance = _importance(gate, spec, data.frame, parts, cand_pred, cand_model, inc_pred, inc_model)
    checks = judge(gate, spec.task, parts, cand_pred, inc_pred, data.rows)

    notes = [
        *choice.notes,
        *dataset.notes,
        *model_spec_notes(model, base_cfg.models.get(model), head_cfg.models.get(model)),
    ]
    changed = dataset.changed_in_pr
    if incumbent_ref is None:
        notes.append(
            f"first deploy: no {model} in {environment} at the base; policy `{gate.first_deploy}` "
            + (
                "judges value thresholds only"
                if gate.first_deploy == "value_thresholds"
                else "fails the gate"
            )
        )
    outcomes = [c.outcome for c in checks]
    verdict = overall_verdict(outcomes)
    return GateVerdict(
        verdict=verdict,
        environment=environment,
        model=model,
        task=spec.task,
        candidate=_version_info(candidate_ref),
        incumbent=_version_info(incumbent_ref) if incumbent_ref else None,
        dataset=DatasetInfo(
            uri=gate.dataset.uri,
            sha256=data.sha256,
            rows=data.rows,
            label=gate.dataset.label,
            pinned=gate.dataset.sha256 is not None,
            changed_in_pr=changed,
        ),
        gate=GateSource(
            path=gate.path or f"gates/{model}.yaml",
            ref=choice.ref,
            commit=_gate_commit(repo, base, head, choice),
            status=choice.status,
            decision=gate.decision,
            confidence=gate.confidence,
            resamples=gate.bootstrap_resamples,
            seed=gate.seed,
            min_examples=gate.min_examples,
            first_deploy=gate.first_deploy,
            sha256=_gate_sha256(repo, choice, head),
            interval=gate.interval,
            multiplicity=gate.multiplicity,
            alpha=family_policy(gate).alpha,
            min_positives=gate.min_positives,
            min_negatives=gate.min_negatives,
        ),
        checks=checks,
        notes=tuple(notes),
        importance=importance,
        challenger=candidate_version != deployment.version,
    )


def _gate_sha256(repo: Path, choice: GateChoice, head: str | None) -> str:
    """The sha256 of the gate file's bytes at the ref it was read from."""
    import hashlib

    from cd.gitrepo import read_file_at_ref

    path = choice.gate.path
    if choice.status == "new_in_pr" and head is None:
        data: bytes | None = (repo / path).read_bytes()
    else:
        data = read_file_at_ref(repo, choice.ref, path)
    return hashlib.sha256(data or b"").hexdigest()


def _gate_commit(repo: Path, base: str, head: str | None, choice: GateChoice) -> str:
    from cd.gitrepo import rev_parse

    if choice.status != "new_in_pr":
        return rev_parse(repo, base)
    return rev_parse(repo, head) if head is not None else "working tree"

"""`modelcd monitor`: read the environment's captured traffic, judge it, and say what drifted.

For each model of the environment: the window's captured rows (`cd.monitor.window`), per variant
against the reference (the training inputs recorded with the version git wants, else the gate's
dataset, sha256-checked either way; scored by each variant's own version from the registry for
prediction drift), variants against the version git wants when more than one answered (canary, shadow,
experiment), and live quality when a labels file joins outcomes by inference id. The decisions are
`cd.monitor.judge`.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cd.config.model import Environment, LocalTargetConfig, SageMakerTargetConfig
from cd.errors import DatasetError, ModelcdError, MonitorError
from cd.monitor.ground_truth import truth_of
from cd.monitor.judge import (
    LiveQuality,
    Reference,
    VariantDrift,
    compare_variants,
    judge_variant,
    live_quality,
)
from cd.monitor.statistics import Outcome
from cd.monitor.window import CaptureSource, LiveWindow, LocalCapture, Problems, S3Capture, read_window

if TYPE_CHECKING:
    import pandas as pd

    from cd.workspace import Workspace

SCORE_COLUMN = "modelcd_score"  # a reference file may carry its scores; else the registry's model scores it
REFERENCE_TAG = "modelcd.reference"  # model version tag: artifact URI of the training inputs (CSV)
REFERENCE_SHA256_TAG = "modelcd.reference.sha256"
LABEL_KEY = "inference_id"


@dataclass(frozen=True)
class MonitorRequest:
    env: str
    model: str | None = None
    since: float | None = None  # seconds before `now`; default: the policy's window
    labels: Path | None = None
    reference: Path | None = None


@dataclass(frozen=True)
class MonitorReport:
    environment: str
    model: str
    endpoint: str
    source: str
    start: float
    end: float
    records: int
    rows: int
    reference: str
    variants: tuple[VariantDrift, ...]
    comparisons: tuple[VariantDrift, ...]
    quality: tuple[LiveQuality, ...]
    bad_lines: int
    bad_records: int
    problem_examples: tuple[str, ...]
    notes: tuple[str, ...] = ()
    env_path: str = ""

    @property
    def outcome(self) -> Outcome:
        outcomes = [v.outcome for v in self.variants]
        if "drift" in outcomes:
            return "drift"
        if not outcomes or all(o == "not_enough_data" for o in outcomes):
            return "not_enough_data"
        return "stable"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "modelcd/monitor-report",
            "schema_version": 1,
            "environment": self.environment,
            "model": self.model,
            "endpoint": self.endpoint,
            "outcome": self.outcome,
            "source": self.source,
            "window": {"start": _iso(self.start), "end": _iso(self.end)},
            "records": self.records,
            "rows": self.rows,
            "reference": self.reference,
            "variants": [v.to_dict() for v in self.variants],
            "comparisons": [v.to_dict() for v in self.comparisons],
            "quality": [q.to_dict() for q in self.quality],
            "unreadable": {
                "lines": self.bad_lines,
                "records": self.bad_records,
                "examples": list(self.problem_examples),
            },
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class MonitorRun:
    reports: tuple[MonitorReport, ...]

    @property
    def drifted(self) -> bool:
        return any(r.outcome == "drift" for r in self.reports)


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


# ---------------------------------------------------------------- adapters


def ground_truth_at(
    env: Environment, root: Path, start: float, end: float, problems: Problems
) -> pd.DataFrame:
    """The labels that arrived for `env`'s traffic in [start, end) (monitoring.ground_truth), one row per
    labelled request row; bad lines are counted in `problems`."""
    from cd.monitor.ground_truth import GROUND_TRUTH_DIR, local_files, parse_labels, s3_files

    truth = env.monitoring.ground_truth
    if truth is None:
        raise MonitorError(f"{env.path}: monitoring.ground_truth is not set: no labels arrive for {env.name}")
    match env.target:
        case LocalTargetConfig():
            return parse_labels(
                local_files(root / env.target.state_dir / GROUND_TRUTH_DIR, start, end), problems
            )
        case SageMakerTargetConfig():
            import boto3

            from cd.aws import client_config

            client = boto3.client("s3", region_name=env.target.region, config=client_config("standard", 5))
            return parse_labels(s3_files(truth.destination or "", client, start, end), problems)


def capture_source(ws: Workspace, env: Environment) -> CaptureSource:
    return capture_source_at(env, ws.root)


def capture_source_at(env: Environment, root: Path) -> CaptureSource:
    """Where `env`'s endpoints capture to: the local router's directory, or SageMaker's S3 prefix."""
    capture = env.monitoring.capture
    if capture is None:
        raise MonitorError(
            f"{env.path}: monitoring.capture is not set, so {env.name}'s endpoints capture nothing to "
            "monitor; add `monitoring: {capture: {sampling_percentage: 100}}` and deploy again"
        )
    match env.target:
        case LocalTargetConfig():
            from cd.monitor.capture import CAPTURE_DIR

            return LocalCapture(root / env.target.state_dir / CAPTURE_DIR)
        case SageMakerTargetConfig():
            import boto3

            from cd.aws import client_config

            client = boto3.client("s3", region_name=env.target.region, config=client_config("standard", 5))
            return S3Capture(capture.destination or "", client)


def _recorded_reference(
    ws: Workspace, model: str, version: int, notes: list[str]
) -> tuple[pd.DataFrame, str] | None:
    """The training inputs recorded with the version (tag `modelcd.reference`), sha256-checked; None when
    the version records none or the registry cannot be read (then the gate's dataset is used)."""
    import hashlib
    import io
    import tempfile

    import pandas as pd

    spec = ws.config.models[model]
    try:
        registry = ws.registry()
        mv = registry.client.get_model_version(spec.registered_model, str(version))
        uri = (mv.tags or {}).get(REFERENCE_TAG)
        if not uri:
            return None
        import mlflow.artifacts

        with tempfile.TemporaryDirectory(prefix="modelcd-reference-") as tmp:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=tmp, tracking_uri=registry.tracking_uri
            )
            data = Path(local).read_bytes()
    except Exception as exc:
        notes.append(
            f"the training reference of v{version} was not read ({type(exc).__name__}: {exc}); the gate's dataset is the reference"
        )
        return None
    digest = hashlib.sha256(data).hexdigest()
    expected = (mv.tags or {}).get(REFERENCE_SHA256_TAG)
    if expected and expected != digest:
        raise MonitorError(
            f"the training reference of {model} v{version} ({uri}) is sha256 {digest[:12]}, recorded {expected[:12]}: refusing it"
        )
    frame = pd.read_csv(io.BytesIO(data))
    missing = [c.name for c in spec.inputs if c.name not in frame.columns]
    if missing:
        raise MonitorError(
            f"the training reference of {model} v{version} ({uri}) has no column {', '.join(missing)}"
        )
    return frame, f"training inputs recorded with v{version} ({uri}, sha256 {digest[:12]})"


def _reference_frame(ws: Workspace, model: str, path: Path | None) -> tuple[pd.DataFrame, str]:
    from cd.gates.dataset import load_dataset

    spec = ws.config.models[model]
    gate = ws.config.gates.get(model)
    if path is not None:
        import pandas as pd

        try:
            frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        except (OSError, ValueError) as exc:
            raise MonitorError(f"reference {path}: cannot read it: {exc}") from exc
        missing = [c.name for c in spec.inputs if c.name not in frame.columns]
        if missing:
            raise MonitorError(f"reference {path}: no column {', '.join(missing)} (model {model}'s inputs)")
        return frame, str(path)
    if gate is None:
        raise MonitorError(
            f"model {model} has no gate (gates/{model}.yaml) to take a reference from: pass --reference"
        )
    try:
        loaded = load_dataset(gate.dataset, ws.root, list(spec.inputs), spec.task)
    except DatasetError as exc:
        raise MonitorError(f"the reference is the gate's dataset, which cannot be read: {exc}") from exc
    return loaded.frame, f"{gate.dataset.uri} (sha256 {loaded.sha256[:12]})"


def _reference_scores(
    ws: Workspace, model: str, version: int | None, frame: pd.DataFrame, notes: list[str]
) -> np.ndarray | None:
    if SCORE_COLUMN in frame.columns:
        return frame[SCORE_COLUMN].to_numpy(np.float64)
    if version is None:
        return None
    from cd.gates.scoring import load_model, predict

    spec = ws.config.models[model]
    gate = ws.config.gates[model]
    try:
        registry = ws.registry()
        with tempfile.TemporaryDirectory(prefix="modelcd-monitor-") as scratch:
            tmp = Path(scratch)
            model_dir = registry.download(spec.registered_model, version, tmp / "model")
            loaded = load_model(model_dir)
            predictions = predict(
                loaded,
                frame[[c.name for c in spec.inputs]],
                _labels_for_scoring(frame, gate.dataset.label, loaded, spec.task),
                spec.task,
                (),
                f"{model} v{version}",
                gate.dataset.positive_label,
            )
    except ModelcdError as exc:
        notes.append(f"prediction drift of v{version} not computed: {exc}")
        return None
    if predictions.predicted.ndim != 1:
        notes.append(f"prediction drift of v{version} not computed: only binary and regression scores are")
        return None
    return predictions.predicted


def _labels_for_scoring(frame: pd.DataFrame, label: str, model: Any, task: str) -> pd.Series:
    """The reference's labels, or (a training reference keeps the inputs only) a placeholder of one of
    the model's classes: only the scores are used, and the scorer checks labels against the classes."""
    import pandas as pd

    if label in frame.columns:
        return frame[label]
    classes = list(getattr(model, "classes_", [])) or [0]
    return pd.Series([0.0 if task == "regression" else classes[0]] * len(frame))


def _offline_figures(ws: Workspace, model: str, version: int, env: str, notes: list[str]) -> dict[str, Any]:
    """The gate's overall figures for this version, from the release's verdict asset."""
    import json

    from cd.release.model import release_tag
    from cd.release.publisher import open_publisher

    try:
        publisher = open_publisher(ws)
        release = publisher.find(release_tag(model, version))
        assets = [] if release is None else [a for a in release.assets if a.name.startswith("gate-verdict")]
        if not assets:
            notes.append(f"offline figures of v{version}: not recorded (no gate verdict in its release)")
            return {}
        with tempfile.TemporaryDirectory(prefix="modelcd-monitor-") as scratch:
            tmp = Path(scratch)
            path = publisher.download(release, assets[0], tmp / assets[0].name)  # type: ignore[arg-type]
            verdict = json.loads(path.read_text())
    except (ModelcdError, OSError, ValueError) as exc:
        notes.append(f"offline figures of v{version}: not read ({exc})")
        return {}
    figures: dict[str, tuple[float, float | None, float | None]] = {}
    for check in verdict.get("checks", []):
        if check.get("slice") == "overall" and check.get("candidate"):
            c = check["candidate"]
            figures[check["metric"]] = (c.get("value"), c.get("ci_low"), c.get("ci_high"))
    return figures


def read_outcomes(path: Path, column: str, what: str = "labels") -> pd.DataFrame:
    """A CSV of outcomes joined later by inference id: `inference_id`, `column`, and `row` (the row's
    position in its request; 0 when absent)."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype={LABEL_KEY: str})
    except (OSError, ValueError) as exc:
        raise MonitorError(f"{what} {path}: cannot read it: {exc}") from exc
    missing = [c for c in (LABEL_KEY, column) if c not in frame.columns]
    if missing:
        raise MonitorError(
            f"{what} {path}: no column {', '.join(missing)}; it needs `{LABEL_KEY}` and `{column}` "
            "(and optionally `row`, the row's position in its request)"
        )
    if "row" not in frame.columns:
        frame["row"] = 0
    return frame[[LABEL_KEY, "row", column]]


# ---------------------------------------------------------------- per model


def monitor_model(
    ws: Workspace, env: Environment, model: str, request: MonitorRequest, now: float
) -> MonitorReport:
    spec = ws.config.models[model]
    policy = env.monitoring.drift
    start = now - (request.since if request.since is not None else policy.window_seconds)
    endpoint = env.endpoint_name(model)
    source = capture_source(ws, env)
    window = read_window(source, endpoint, start, now, spec.inputs, spec.task)
    notes: list[str] = []
    if window.rows == 0:
        notes.append(
            f"no captured requests at {window.source} between {_iso(start)} and {_iso(now)}: "
            "nothing to judge (not enough data)"
        )
    recorded = (
        None
        if request.reference is not None
        else _recorded_reference(ws, model, env.models[model].version, notes)
    )
    frame, described = recorded or _reference_frame(ws, model, request.reference)
    variants, comparisons, quality = _judge_window(ws, env, model, window, frame, described, request, notes)
    return MonitorReport(
        environment=env.name,
        model=model,
        endpoint=endpoint,
        source=window.source,
        start=start,
        end=now,
        records=window.records,
        rows=window.rows,
        reference=described,
        variants=variants,
        comparisons=comparisons,
        quality=quality,
        bad_lines=window.problems.bad_lines,
        bad_records=window.problems.bad_records,
        problem_examples=tuple(window.problems.examples),
        notes=tuple(notes),
        env_path=env.path,
    )


def _judge_window(
    ws: Workspace,
    env: Environment,
    model: str,
    window: LiveWindow,
    frame: pd.DataFrame,
    described: str,
    request: MonitorRequest,
    notes: list[str],
) -> tuple[tuple[VariantDrift, ...], tuple[VariantDrift, ...], tuple[LiveQuality, ...]]:
    spec = ws.config.models[model]
    policy = env.monitoring.drift
    versions = window.versions()
    rows = {
        name: int(np.sum(window.variants == name)) if len(versions) > 1 else window.rows for name in versions
    }
    by_rows = sorted(versions.items(), key=lambda kv: -rows[kv[0]])
    variants, quality = [], []
    labels = None
    gate = ws.config.gates.get(model)
    if request.labels is not None:
        if gate is None:
            raise MonitorError(
                f"live quality needs the gate's metrics: model {model} has no gates/{model}.yaml"
            )
        labels = read_outcomes(request.labels, gate.dataset.label)
    elif env.monitoring.ground_truth is not None and gate is not None:
        labels = _arrived_labels(ws, env, window, gate.dataset.label, notes)
    parts = {name: window.of_variant(name) for name in versions}  # each variant's rows, selected once
    for name, version in by_rows:
        part = parts[name]
        scores = _reference_scores(ws, model, version, frame, notes)
        reference = Reference(described, frame, scores)
        variants.append(
            judge_variant(reference, name, version, part.inputs, part.scores, spec.inputs, policy)
        )
        if labels is not None and gate is not None:
            quality.append(_quality(ws, env, model, name, version, part, labels, notes))
    comparisons = []
    if len(by_rows) > 1:
        # the version git wants is the baseline when it answered in the window, else the busiest one
        wanted = f"v{env.models[model].version}"
        stable_name = wanted if wanted in versions else by_rows[0][0]
        stable = parts[stable_name]
        for name, version in (kv for kv in by_rows if kv[0] != stable_name):
            other = parts[name]
            comparisons.append(
                compare_variants(
                    stable_name,
                    stable.inputs,
                    stable.scores,
                    name,
                    version,
                    other.inputs,
                    other.scores,
                    spec.inputs,
                    policy,
                )
            )
    return tuple(variants), tuple(comparisons), tuple(quality)


def _arrived_labels(
    ws: Workspace, env: Environment, window: LiveWindow, column: str, notes: list[str]
) -> pd.DataFrame | None:
    """The labels that arrived in monitoring.ground_truth since the window opened, as `--labels` reads
    them; None (with a note) when none has."""
    arrived = ground_truth_at(env, ws.root, window.start, window.end + 1, window.problems)
    if arrived.empty:
        notes.append("no labels have arrived in monitoring.ground_truth for this window: no live quality")
        return None
    return arrived.rename(columns={"label": column})


def _quality(
    ws: Workspace,
    env: Environment,
    model: str,
    variant: str,
    version: int | None,
    part: LiveWindow,
    labels: pd.DataFrame,
    notes: list[str],
) -> LiveQuality:
    import pandas as pd

    spec = ws.config.models[model]
    gate = ws.config.gates[model]
    live = pd.DataFrame(
        {
            LABEL_KEY: part.inference_ids.astype(str),
            "row": part.row_in_request.astype(int),
            "score": part.scores,
        }
    )
    joined = live.merge(labels, on=[LABEL_KEY, "row"], how="inner")
    joined = joined[~joined["score"].isna()]
    matched = set(zip(joined[LABEL_KEY], joined["row"], strict=True))
    unmatched = sum(1 for key in zip(labels[LABEL_KEY], labels["row"], strict=True) if key not in matched)
    offline = _offline_figures(ws, model, version, env.name, notes) if version is not None else {}
    truth = (
        joined[gate.dataset.label].to_numpy(np.float64)
        if spec.task == "regression"
        else truth_of(joined[gate.dataset.label], gate.dataset.positive_label)
    )
    return live_quality(
        variant,
        version,
        truth,
        joined["score"].to_numpy(np.float64),
        spec.task,
        [m.metric for m in gate.metrics],
        offline,
        unmatched=unmatched,
        confidence=gate.confidence,
        resamples=gate.bootstrap_resamples,
        seed=gate.seed,
    )


def monitor(ws: Workspace, request: MonitorRequest, now: float | None = None) -> MonitorRun:
    env = ws.environment(request.env)
    if request.model is not None and request.model not in env.models:
        from cd.errors import UsageError

        raise UsageError(
            f"{env.path}: model {request.model!r} is not deployed in {env.name} "
            f"(its models: {', '.join(sorted(env.models)) or 'none'})"
        )
    models = [request.model] if request.model else sorted(env.models)
    at = time.time() if now is None else now
    return MonitorRun(tuple(monitor_model(ws, env, m, request, at) for m in models))

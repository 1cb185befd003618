"""Load a repository's desired state: environments, gates and model specs.

One entry point per source (a directory, or a git ref read without checkout); both go through
`build_repo_config(files)`, which parses every file strictly, validates it against its schema, builds the
frozen dataclasses and runs the cross-file checks. Every problem is collected; a ConfigError carries all.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from cd.config import checks
from cd.config.model import (
    SHAP_ROWS,
    Analysis,
    AnalysisPolicy,
    Approvals,
    Bake,
    CaptureConfig,
    ChangeThreshold,
    Column,
    DatasetSpec,
    DriftPolicy,
    Environment,
    Experiment,
    ExperimentPolicy,
    Gate,
    GroundTruthConfig,
    LocalTargetConfig,
    MetricCheck,
    ModelDeployment,
    ModelSpec,
    Monitoring,
    RepoConfig,
    RolloutPolicy,
    SageMakerTargetConfig,
    Serving,
    SetWeight,
    Shadow,
    SliceSpec,
    Step,
    ValueThreshold,
)
from cd.config.schema import validate_document
from cd.config.yamlload import Document, parse_yaml
from cd.errors import ConfigError, Problem

CONFIG_DIRS = ("environments", "gates", "models")
_ENV_FILE = re.compile(r"^environments/([^/]+)\.yaml$")
_GATE_FILE = re.compile(r"^gates/([^/]+)\.yaml$")
_MODEL_FILE = re.compile(r"^models/([^/]+)/model\.yaml$")
_DURATION = re.compile(r"^([0-9]+h)?([0-9]+m)?([0-9]+s)?$")


def load_repo(root: Path) -> RepoConfig:
    """The desired state in a directory (a working tree). Raises ConfigError with every problem."""
    files: dict[str, bytes] = {}
    for top in CONFIG_DIRS:
        base = root / top
        if not base.is_dir():
            continue
        for path in base.rglob("*"):
            if path.is_file() and path.suffix in (".yaml", ".yml"):
                files[path.relative_to(root).as_posix()] = path.read_bytes()
    return build_repo_config(files)


def load_repo_at_ref(repo: Path, ref: str) -> RepoConfig:
    """The desired state at a git ref, read through git without a checkout."""
    from cd.gitrepo import read_tree

    tree = read_tree(repo, ref, CONFIG_DIRS)
    return build_repo_config({p: b for p, b in tree.items() if p.endswith((".yaml", ".yml"))})


def build_repo_config(files: Mapping[str, bytes]) -> RepoConfig:
    problems: list[Problem] = []
    docs: dict[str, Document] = {}
    for path in sorted(files):
        if path.endswith(".yml"):
            problems.append(Problem(path, None, "", "rename to .yaml: modelcd reads only .yaml files"))
            continue
        kind = _kind_of(path)
        if kind is None:
            continue
        try:
            doc = parse_yaml(files[path], path)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        schema_problems = validate_document(doc, kind)
        if schema_problems:
            problems.extend(schema_problems)
        else:
            docs[path] = doc
    environments, gates, models = _build_all(docs, problems)
    config = RepoConfig(environments=environments, gates=gates, models=models)
    problems.extend(checks.cross_file_problems(config, docs, frozenset(files)))
    if problems:
        raise ConfigError(sorted(set(problems), key=lambda p: (p.file, p.line or 0, p.key, p.message)))
    return config


def _kind_of(path: str) -> str | None:
    if _ENV_FILE.match(path):
        return "environment"
    if _GATE_FILE.match(path):
        return "gate"
    if _MODEL_FILE.match(path):
        return "model"
    return None


def _build_all(
    docs: Mapping[str, Document], problems: list[Problem]
) -> tuple[dict[str, Environment], dict[str, Gate], dict[str, ModelSpec]]:
    environments: dict[str, Environment] = {}
    gates: dict[str, Gate] = {}
    models: dict[str, ModelSpec] = {}
    for path, doc in docs.items():
        try:
            if m := _ENV_FILE.match(path):
                environments[m.group(1)] = build_environment(doc, m.group(1))
            elif m := _GATE_FILE.match(path):
                gates[m.group(1)] = build_gate(doc, m.group(1))
            elif m := _MODEL_FILE.match(path):
                models[m.group(1)] = build_model_spec(doc, m.group(1))
        except ConfigError as exc:
            problems.extend(exc.problems)
    return environments, gates, models


# ---------------------------------------------------------------- builders (data already schema-valid)


def parse_duration(text: str) -> float:
    """`30s`, `10m`, `1h30m` -> seconds."""
    match = _DURATION.match(text)
    if not text or match is None:
        raise ValueError(f"invalid duration {text!r}")
    h, m, s = (int(g[:-1]) if g else 0 for g in match.groups())
    return float(h * 3600 + m * 60 + s)


def build_environment(doc: Document, file_stem: str) -> Environment:
    data: dict[str, Any] = doc.data
    if data["name"] != file_stem:
        raise ConfigError(
            doc.problem(("name",), f"is {data['name']!r} but the file is {file_stem}.yaml; they must match")
        )
    rollout = data["rollout"]
    analysis = _analysis_policy(rollout.get("analysis", {}), AnalysisPolicy())
    steps: list[Step] = []
    for raw in rollout["steps"]:
        if "set_weight" in raw:
            steps.append(SetWeight(raw["set_weight"]))
        elif "bake" in raw:
            steps.append(Bake(parse_duration(raw["bake"])))
        elif "shadow" in raw:
            steps.append(Shadow(parse_duration(raw["shadow"])))
        elif "experiment" in raw:
            steps.append(Experiment(parse_duration(raw["experiment"])))
        else:
            steps.append(Analysis(_analysis_policy(raw["analysis"] or {}, analysis)))
    policy = RolloutPolicy(
        strategy=rollout.get("strategy", "canary"),
        steps=tuple(steps),
        analysis=analysis,
        lease_seconds=parse_duration(rollout["lease"]) if "lease" in rollout else RolloutPolicy.lease_seconds,
        experiment=ExperimentPolicy(**rollout["experiment"]) if "experiment" in rollout else None,
    )
    approvals = data.get("approvals", {})
    models = {
        name: ModelDeployment(
            name=name,
            version=spec["version"],
            serving=Serving(**spec.get("serving", {})),
            challengers=tuple(spec.get("challengers", ())),
            line=doc.line_of(("models", name, "version")),
            challengers_line=doc.line_of(("models", name, "challengers")) if "challengers" in spec else None,
        )
        for name, spec in (data["models"] or {}).items()
    }
    return Environment(
        name=data["name"],
        target=_target(data["target"]),
        rollout=policy,
        approvals=Approvals(required=approvals.get("required", 0), teams=tuple(approvals.get("teams", ()))),
        models=models,
        promote_from=data.get("promote_from"),
        path=doc.file,
        monitoring=_monitoring(data.get("monitoring", {})),
    )


def _monitoring(raw: dict[str, Any]) -> Monitoring:
    capture, truth = raw.get("capture"), raw.get("ground_truth")
    drift = dict(raw.get("drift", {}))
    if "window" in drift:
        drift["window_seconds"] = parse_duration(drift.pop("window"))
    return Monitoring(
        capture=None if capture is None else CaptureConfig(**capture),
        drift=DriftPolicy(**drift),
        ground_truth=None if truth is None else GroundTruthConfig(**truth),
    )


def _target(raw: dict[str, Any]) -> SageMakerTargetConfig | LocalTargetConfig:
    fields = {k: v for k, v in raw.items() if k != "kind"}
    if raw["kind"] == "sagemaker":
        return SageMakerTargetConfig(**fields)
    return LocalTargetConfig(**fields)


def _analysis_policy(raw: dict[str, Any], base: AnalysisPolicy) -> AnalysisPolicy:
    from dataclasses import replace

    fields = dict(raw)
    if "alarms" in fields:
        fields["alarms"] = tuple(fields["alarms"])
    for key in (
        "max_error_rate",
        "max_error_rate_increase",
        "max_client_error_rate_increase",
        "max_latency_ratio",
        "alpha",
        "advance_alpha",
        "max_score_difference",
    ):
        if key in fields:
            fields[key] = float(fields[key])
    if fields.get("max_disagreement") is not None:
        fields["max_disagreement"] = float(fields["max_disagreement"])
    if "max_extension" in fields:
        fields["max_extension"] = parse_duration(fields["max_extension"])
    return replace(base, **fields)


def build_gate(doc: Document, model: str) -> Gate:
    data: dict[str, Any] = doc.data
    dataset = data["dataset"]
    path = dataset["path"]
    fmt: Literal["csv", "parquet"] = dataset.get("format") or (
        "parquet" if path.endswith((".parquet", ".pq")) else "csv"
    )
    slices = _with_cross_buckets(
        tuple(_slice_spec(doc, i, raw) for i, raw in enumerate(data.get("slices", [])))
    )
    bootstrap = data.get("bootstrap", {})
    importance = data.get("importance", {})
    return Gate(
        model=model,
        dataset=DatasetSpec(
            uri=path,
            label=dataset["label"],
            format=fmt,
            sha256=dataset.get("sha256"),
            positive_label=dataset.get("positive_label"),
        ),
        metrics=tuple(_metric_check(raw) for raw in data["metrics"]),
        slices=slices,
        min_examples=data.get("min_examples", Gate.min_examples),
        min_positives=data.get("min_positives", Gate.min_positives),
        min_negatives=data.get("min_negatives", Gate.min_negatives),
        interval=data.get("interval", Gate.interval),
        multiplicity=data.get("multiplicity", Gate.multiplicity),
        confidence=float(data.get("confidence", Gate.confidence)),
        bootstrap_resamples=bootstrap.get("resamples", Gate.bootstrap_resamples),
        seed=bootstrap.get("seed", Gate.seed),
        decision=data.get("decision", Gate.decision),
        first_deploy=data.get("first_deploy", Gate.first_deploy),
        path=doc.file,
        importance_rows=0 if importance is False else importance.get("rows", Gate.importance_rows),
        importance_repeats=Gate.importance_repeats
        if importance is False
        else importance.get("repeats", Gate.importance_repeats),
        **_shap_bounds(importance),
    )


def _shap_bounds(importance: dict[str, Any] | bool) -> dict[str, int]:
    """`importance.shap`: absent or false, off; true, the defaults; else its rows and background."""
    shap = importance.get("shap", False) if isinstance(importance, dict) else False
    if shap is False:
        return {}
    bounds = shap if isinstance(shap, dict) else {}
    return {
        "shap_rows": bounds.get("rows", SHAP_ROWS),
        "shap_background": bounds.get("background", Gate.shap_background),
    }


def _metric_check(raw: dict[str, Any]) -> MetricCheck:
    value = raw.get("value")
    change = raw.get("change")
    return MetricCheck(
        metric=raw["metric"],
        value=ValueThreshold(**{k: float(v) for k, v in value.items()}) if value else None,
        change=ChangeThreshold(**{k: float(v) for k, v in change.items()}) if change else None,
        slices=tuple(raw["slices"]) if "slices" in raw else None,
    )


def _slice_spec(doc: Document, index: int, raw: dict[str, Any]) -> SliceSpec:
    if "cross" in raw:
        features = tuple(raw["cross"])
        return SliceSpec(name=" x ".join(features), features=features)
    feature = raw["feature"]
    buckets = raw.get("buckets")
    if buckets is None:
        return SliceSpec(name=feature, features=(feature,))
    edges = tuple(float(b) for b in buckets)
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise ConfigError(
            doc.problem(("slices", index, "buckets"), "bucket edges must be strictly increasing")
        )
    return SliceSpec(name=feature, features=(feature,), buckets={feature: edges})


def _with_cross_buckets(slices: tuple[SliceSpec, ...]) -> tuple[SliceSpec, ...]:
    """A crossed feature that is bucketed by another slice is bucketed the same way in the cross."""
    edges = {f: e for s in slices for f, e in s.buckets.items()}
    return tuple(
        SliceSpec(s.name, s.features, {f: edges[f] for f in s.features if f in edges})
        if len(s.features) > 1
        else s
        for s in slices
    )


def build_model_spec(doc: Document, name: str) -> ModelSpec:
    data: dict[str, Any] = doc.data
    seen: dict[str, int] = {}
    for i, column in enumerate(data["inputs"]):
        if column["name"] in seen:
            raise ConfigError(
                doc.problem(("inputs", i, "name"), f"duplicate input column {column['name']!r}")
            )
        seen[column["name"]] = i
    return ModelSpec(
        name=name,
        registered_model=data["registered_model"],
        task=data["task"],
        inputs=tuple(Column(c["name"], c["type"]) for c in data["inputs"]),
        owners=tuple(data["owners"]),
        description=data.get("description", ""),
        path=doc.file,
    )

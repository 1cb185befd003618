"""Typed, frozen values built from validated YAML. No I/O here.

Field names follow the YAML keys (see the JSON Schemas in `cd/config/schemas/`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Literal

Task = Literal["binary_classification", "multiclass_classification", "regression"]
ColumnType = Literal["integer", "number", "string", "boolean"]


# ---------------------------------------------------------------- models/<name>/model.yaml


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType


@dataclass(frozen=True)
class ModelSpec:
    """`models/<name>/model.yaml`: what the model is and who owns it."""

    name: str  # directory name under models/
    registered_model: str  # name in the MLflow model registry
    task: Task
    inputs: tuple[Column, ...]
    owners: tuple[str, ...]
    description: str = ""
    path: str = ""  # repo-relative path of the YAML file

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.inputs)


# ---------------------------------------------------------------- gates/<model>.yaml

MetricName = str
SliceDecision = Literal["point", "confident"]


@dataclass(frozen=True)
class DatasetSpec:
    uri: str  # repo-relative path or s3://bucket/key
    label: str
    format: Literal["csv", "parquet"]
    sha256: str | None = None
    positive_label: str | int | bool | None = None  # binary: which label is positive (default 1 / true)


@dataclass(frozen=True)
class ValueThreshold:
    """TFMA GenericValueThreshold: the metric must lie in [min, max]."""

    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class ChangeThreshold:
    """TFMA GenericChangeThreshold: how much worse than the incumbent is tolerated.

    Both are non-negative tolerances in the metric's "worse" direction (known per metric):
    `absolute` in metric units, `relative` as a fraction of the incumbent's value. When both are
    given, a candidate passes if it is within either.
    """

    absolute: float | None = None
    relative: float | None = None


@dataclass(frozen=True)
class MetricCheck:
    metric: MetricName
    value: ValueThreshold | None = None
    change: ChangeThreshold | None = None
    # Which slices the check applies to: None = overall and every slice; otherwise slice-spec names,
    # where "overall" names the whole dataset.
    slices: tuple[str, ...] | None = None


@dataclass(frozen=True)
class SliceSpec:
    """One way of slicing: a feature, a bucketed numeric feature, or a cross of features.

    `name` is the feature name, or the crossed names joined by " x " (e.g. "plan x region").
    `buckets` maps a numeric feature to its bucket edges (ascending); features not in it are
    categorical.
    """

    name: str
    features: tuple[str, ...]
    buckets: Mapping[str, tuple[float, ...]] = field(default_factory=dict)


IntervalMethod = Literal["bca", "percentile"]  # see cd.gates.intervals
Multiplicity = Literal["holm", "bh", "none"]  # see cd.gates.family


SHAP_ROWS = 50  # `importance.shap: true`: rows explained


@dataclass(frozen=True)
class Gate:
    """`gates/<model>.yaml`: the evaluation a candidate version must pass."""

    model: str
    dataset: DatasetSpec
    metrics: tuple[MetricCheck, ...]
    slices: tuple[SliceSpec, ...] = ()
    min_examples: int = 100
    min_positives: int = 10  # binary rank/threshold metrics (see cd.gates.evaluate.class_counts_rule)
    min_negatives: int = 10
    interval: IntervalMethod = "bca"
    multiplicity: Multiplicity = "holm"
    confidence: float = 0.95
    bootstrap_resamples: int = 200
    seed: int = 0
    decision: SliceDecision = "confident"
    first_deploy: Literal["value_thresholds", "fail"] = "value_thresholds"
    path: str = ""
    importance_rows: int = 2000  # rows sampled for permutation importance; 0: not computed
    importance_repeats: int = 3
    shap_rows: int = 0  # rows explained by SHAP (cd.gates.explain); 0: not computed
    shap_background: int = 50


# ---------------------------------------------------------------- environments/<env>.yaml


@dataclass(frozen=True)
class SageMakerTargetConfig:
    region: str
    role_arn: str
    image_repository: str  # ECR repository URI, without tag or digest
    endpoint_prefix: str
    kind: Literal["sagemaker"] = "sagemaker"

    def endpoint_name(self, model: str) -> str:
        return f"{self.endpoint_prefix}-{model}"


@dataclass(frozen=True)
class LocalTargetConfig:
    """Bento servers behind a weighted router on loopback (the embedded default)."""

    endpoint_prefix: str
    state_dir: str = ".modelcd/local"  # relative to the repository root
    kind: Literal["local"] = "local"

    def endpoint_name(self, model: str) -> str:
        return f"{self.endpoint_prefix}-{model}"


TargetConfig = SageMakerTargetConfig | LocalTargetConfig


@dataclass(frozen=True)
class AnalysisPolicy:
    """Canary analysis: candidate compared with stable, sequentially (see cd.rollout.analysis).

    `alpha` bounds the probability of rolling back a candidate that is within every limit, over the
    whole rollout however often it is looked at; `advance_alpha` bounds the probability of advancing a
    step while the candidate is beyond a limit. Too little evidence extends the step by up to
    `max_extension` seconds, then `on_inconclusive`.
    """

    min_requests: int = 100  # candidate requests needed before a step may pass
    max_error_rate: float = 0.01  # 5xx / invocations, candidate
    max_error_rate_increase: float = 0.005  # candidate 5xx rate - stable 5xx rate
    max_client_error_rate_increase: float = 0.02  # candidate 4xx rate - stable 4xx rate
    max_latency_ratio: float = 1.5  # candidate latency / stable latency at `latency_statistic`
    # share of shadow requests whose prediction differs from stable's (a label, or a score by more
    # than max_score_difference); None: reported, not judged
    max_disagreement: float | None = None
    max_score_difference: float = 0.1
    max_prediction_ks: float | None = None  # candidate vs stable scores on the same window (data capture)
    max_input_ks: float | None = None  # candidate vs stable live inputs, per feature (data capture)
    # candidate's share of wrongly classified labelled rows minus stable's (capture joined with ground truth)
    max_misclassification_increase: float | None = None
    latency_statistic: Literal["Average", "p50", "p90", "p99"] = "p99"
    alarms: tuple[str, ...] = ()  # CloudWatch alarms; any in ALARM fails the step
    alpha: float = 0.01
    advance_alpha: float = 0.2
    max_extension: float = 1800.0  # seconds an analysis step may wait for evidence
    max_inconclusive: int = 3  # consecutive unreadable measurements tolerated before `on_inconclusive`
    on_inconclusive: Literal["rollback", "pause"] = "pause"

    @property
    def reads_capture(self) -> bool:
        """Whether a check needs the endpoint's data capture (drift, live quality)."""
        return any(
            x is not None
            for x in (self.max_prediction_ks, self.max_input_ks, self.max_misclassification_increase)
        )


@dataclass(frozen=True)
class SetWeight:
    weight: int  # percent of traffic to the candidate, 0..100


@dataclass(frozen=True)
class Bake:
    seconds: float


@dataclass(frozen=True)
class Shadow:
    """The candidate gets a copy of live traffic for `seconds` while stable answers every request;
    its errors, latency and predictions are compared with stable's on the same requests."""

    seconds: float


@dataclass(frozen=True)
class Analysis:
    policy: AnalysisPolicy  # the environment's analysis policy with this step's overrides applied


@dataclass(frozen=True)
class Experiment:
    """Hold the split for at most `seconds` while `modelcd experiment` decides on the business metric."""

    seconds: float


Step = SetWeight | Bake | Shadow | Analysis | Experiment


@dataclass(frozen=True)
class ExperimentPolicy:
    """`strategy: experiment`: the business metric that decides between stable and the candidate."""

    metric: str
    source: Literal["outcomes", "cloudwatch"] = "outcomes"
    namespace: str | None = None  # cloudwatch
    squares_metric: str | None = None  # cloudwatch, a metric that is not 0/1: the sum of its squares
    higher_is_better: bool = True
    alpha: float = 0.05
    effect_of_interest: float = 0.02
    min_samples: int = 200


Strategy = Literal["canary", "blue_green", "sagemaker_canary", "sagemaker_linear", "experiment"]
# SageMaker shifts the traffic itself (blue/green with canary or linear routing, rolled back by alarms):
# the rollout goes on when the deploy job dies. See docs/rollout.md, "SageMaker-native traffic shifting".
NATIVE_STRATEGIES: frozenset[str] = frozenset({"sagemaker_canary", "sagemaker_linear"})


@dataclass(frozen=True)
class NativeTraffic:
    """A SageMaker-native traffic shift, read from the steps: `step_percent` of the new fleet's capacity
    (the canary, or each linear step), each step baked for `wait_seconds` under the alarms."""

    mode: Literal["CANARY", "LINEAR"]
    step_percent: int
    wait_seconds: int
    max_error_rate: float  # modelcd's own alarm on the new fleet's 5xx rate
    alarms: tuple[str, ...] = ()  # the analysis policy's alarms, watched too

    @property
    def steps(self) -> int:
        return 1 + (100 // self.step_percent - 1 if self.mode == "LINEAR" else 1)

    @property
    def total_wait_seconds(self) -> int:
        return self.wait_seconds * (self.steps - 1)


@dataclass(frozen=True)
class RolloutPolicy:
    strategy: Strategy
    steps: tuple[Step, ...]
    analysis: AnalysisPolicy
    lease_seconds: float = 3600.0  # how long a deploy's lease on an endpoint lasts without renewal
    experiment: ExperimentPolicy | None = None  # strategy: experiment

    @property
    def native(self) -> NativeTraffic | None:
        """The SageMaker-native shift this policy asks for (None: modelcd's own controller shifts)."""
        if self.strategy not in NATIVE_STRATEGIES:
            return None
        weights = [s.weight for s in self.steps if isinstance(s, SetWeight)]
        bakes = [s.seconds for s in self.steps if isinstance(s, Bake)]
        return NativeTraffic(
            "CANARY" if self.strategy == "sagemaker_canary" else "LINEAR",
            weights[0] if weights else 100,
            int(bakes[0]) if bakes else 0,
            self.analysis.max_error_rate,
            self.analysis.alarms,
        )

    @property
    def analyses(self) -> tuple[AnalysisPolicy, ...]:
        """Every analysis policy a rollout may run: the environment's, and each analysis step's."""
        return (self.analysis, *(s.policy for s in self.steps if isinstance(s, Analysis)))

    def steps_hash(self) -> str:
        """Stable hash of the step list: a resumed rollout must be following the same steps."""
        data = [{type(s).__name__: asdict(s)} for s in self.steps]
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def max_duration_seconds(self) -> float:
        return sum(s.seconds for s in self.steps if isinstance(s, Bake | Shadow))


@dataclass(frozen=True)
class Approvals:
    required: int = 0  # approving reviews needed (the author's own never counts)
    teams: tuple[str, ...] = ()  # "org/team-slug"; when set, approvers must belong to one of them


@dataclass(frozen=True)
class Serving:
    instance_type: str = "ml.m5.large"
    instance_count: int = 1


@dataclass(frozen=True)
class ModelDeployment:
    name: str
    version: int
    serving: Serving = Serving()
    # `strategy: experiment` with more than two versions: each challenger gets the candidate's share
    # beside `version` and stable, and the business metric picks one winner (docs/monitoring.md)
    challengers: tuple[int, ...] = ()
    line: int | None = field(default=None, compare=False)  # line of `version:` in the environment file
    challengers_line: int | None = field(default=None, compare=False)  # line of `challengers:`

    @property
    def versions(self) -> tuple[int, ...]:
        """Every version git asks this environment to serve: `version`, then the challengers."""
        return (self.version, *self.challengers)

    def line_of(self, version: int) -> int | None:
        """The line that asks for `version`: `challengers:` for a challenger, else `version:`."""
        return self.challengers_line if version in self.challengers else self.line

    def key_of(self, version: int) -> str:
        """The key that asks for `version`, as a problem names it."""
        return f"models.{self.name}.{'challengers' if version in self.challengers else 'version'}"


@dataclass(frozen=True)
class CaptureConfig:
    """What the endpoint records of each request and answer (SageMaker DataCaptureConfig)."""

    sampling_percentage: int = 100
    destination: str | None = None  # s3://bucket/prefix (SageMaker); the local target writes in its state dir


@dataclass(frozen=True)
class GroundTruthConfig:
    """Where the true labels of captured requests arrive, in SageMaker Model Monitor's ground-truth format
    (JSON Lines, `groundTruthData` and `eventMetadata.eventId` = the request's inference id)."""

    destination: str | None = (
        None  # s3://bucket/prefix (SageMaker); the local target reads <state_dir>/ground-truth
    )


@dataclass(frozen=True)
class DriftPolicy:
    """When `modelcd monitor` calls a feature drifted: significant (p below alpha, Bonferroni over the
    features tested) and large (PSI for numeric, Jensen-Shannon distance for categorical). Fewer live
    rows than `min_rows`: not enough data, neither drift nor no drift."""

    window_seconds: float = 86400.0
    min_rows: int = 500
    alpha: float = 0.01
    max_psi: float = 0.2
    max_js: float = 0.1


@dataclass(frozen=True)
class Monitoring:
    capture: CaptureConfig | None = None  # None: the endpoints capture nothing
    drift: DriftPolicy = DriftPolicy()
    ground_truth: GroundTruthConfig | None = None  # None: no labels arrive for live traffic


@dataclass(frozen=True)
class Environment:
    name: str
    target: TargetConfig
    rollout: RolloutPolicy
    approvals: Approvals
    models: Mapping[str, ModelDeployment]
    promote_from: str | None = None
    path: str = ""
    monitoring: Monitoring = Monitoring()

    def endpoint_name(self, model: str) -> str:
        return self.target.endpoint_name(model)


@dataclass(frozen=True)
class RepoConfig:
    """The whole desired state of one repository tree (a working tree or a git ref)."""

    environments: Mapping[str, Environment]
    gates: Mapping[str, Gate]
    models: Mapping[str, ModelSpec]

    def promotion_order(self) -> list[str]:
        """Environment names, each after the one it promotes from (`promote_from`), else by name: the
        order deploys run in. A cycle (refused by validation) ends its chain where it closes."""

        def depth(name: str) -> int:
            seen, current, n = {name}, self.environments[name].promote_from, 0
            while current is not None and current in self.environments and current not in seen:
                seen.add(current)
                current, n = self.environments[current].promote_from, n + 1
            return n

        return sorted(self.environments, key=lambda name: (depth(name), name))

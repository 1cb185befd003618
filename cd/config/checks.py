"""Checks that span files: references, rollout step rules, endpoint names, promotion chains."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping

from cd.config.model import (
    NATIVE_STRATEGIES,
    Analysis,
    Bake,
    Environment,
    Experiment,
    Gate,
    LocalTargetConfig,
    RepoConfig,
    SageMakerTargetConfig,
    SetWeight,
    Shadow,
)
from cd.config.yamlload import Document
from cd.errors import Problem

SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
SAGEMAKER_NAME_MAX = 63

METRICS_BY_TASK: Mapping[str, frozenset[str]] = {
    "binary_classification": frozenset(
        {
            "example_count",
            "accuracy",
            "precision",
            "recall",
            "f1",
            "roc_auc",
            "pr_auc",
            "log_loss",
            "brier",
            "expected_calibration_error",
        }
    ),
    "multiclass_classification": frozenset(
        {"example_count", "accuracy", "macro_f1", "weighted_f1", "log_loss"}
    ),
    "regression": frozenset({"example_count", "rmse", "mae", "r2", "mape"}),
}

# The values each metric can take: a threshold outside them can never be met (or is always met).
UNIT_INTERVAL: tuple[float | None, float | None] = (0.0, 1.0)
NON_NEGATIVE: tuple[float | None, float | None] = (0.0, None)
METRIC_RANGES: Mapping[str, tuple[float | None, float | None]] = {
    "accuracy": UNIT_INTERVAL, "precision": UNIT_INTERVAL, "recall": UNIT_INTERVAL, "f1": UNIT_INTERVAL,
    "roc_auc": UNIT_INTERVAL, "pr_auc": UNIT_INTERVAL, "brier": UNIT_INTERVAL,
    "expected_calibration_error": UNIT_INTERVAL, "macro_f1": UNIT_INTERVAL, "weighted_f1": UNIT_INTERVAL,
    "example_count": NON_NEGATIVE, "log_loss": NON_NEGATIVE, "rmse": NON_NEGATIVE, "mae": NON_NEGATIVE,
    "mape": NON_NEGATIVE,
    "r2": (None, 1.0),
}  # fmt: skip


def cross_file_problems(
    config: RepoConfig, docs: Mapping[str, Document], present: frozenset[str] = frozenset()
) -> list[Problem]:
    """Problems between files. `present` lists every config file that exists, loaded or not: a reference to
    a file that exists but is itself invalid is not reported again (that file has its own problems)."""
    problems: list[Problem] = []
    for env in config.environments.values():
        doc = docs[env.path]
        problems += _model_references(env, config, doc, present)
        problems += _rollout_steps(env, doc)
        problems += _endpoint_names(env, doc)
        problems += _promotion_source(env, config, doc, present)
        problems += _capture_destination(env, doc)
        problems += _ground_truth(env, config, doc)
        problems += _experiment_steps(env, doc)
        problems += _challengers(env, doc)
    problems += _endpoint_collisions(config, docs)
    for gate in config.gates.values():
        problems += _gate_against_model(gate, config, docs[gate.path], present)
        problems += _dataset_pin(gate, docs[gate.path])
    return problems


def _model_references(
    env: Environment, config: RepoConfig, doc: Document, present: frozenset[str]
) -> list[Problem]:
    problems = []
    for name in env.models:
        if name not in config.models and f"models/{name}/model.yaml" not in present:
            problems.append(doc.problem(("models", name), f"model {name!r} has no models/{name}/model.yaml"))
        if name not in config.gates and f"gates/{name}.yaml" not in present:
            problems.append(
                doc.problem(("models", name), f"model {name!r} has no gate: add gates/{name}.yaml")
            )
    return problems


def _experiment_steps(env: Environment, doc: Document) -> list[Problem]:
    rollout = env.rollout
    experiments = [i for i, s in enumerate(rollout.steps) if isinstance(s, Experiment)]
    if rollout.strategy != "experiment":
        if experiments:
            return [
                doc.problem(
                    ("rollout", "steps", experiments[0]), "an experiment step needs strategy: experiment"
                )
            ]
        if rollout.experiment is not None:
            return [doc.problem(("rollout", "experiment"), "rollout.experiment needs strategy: experiment")]
        return []
    problems = []
    weights = [s.weight for s in rollout.steps if isinstance(s, SetWeight)]
    if experiments != [len(rollout.steps) - 1] or len(weights) != 1 or not 0 < weights[0] < 100:
        problems.append(
            doc.problem(
                ("rollout", "steps"),
                "strategy: experiment takes one set_weight between 1 and 99 (the candidate's share), then "
                "bake or analysis steps if you like, and ends with one experiment: DURATION step",
            )
        )
    if rollout.experiment is None:
        problems.append(
            doc.problem(("rollout",), "strategy: experiment needs rollout.experiment: {metric: NAME}")
        )
    elif rollout.experiment.source == "cloudwatch" and rollout.experiment.namespace is None:
        problems.append(
            doc.problem(
                ("rollout", "experiment"), "source: cloudwatch needs namespace: the metric's namespace"
            )
        )
    return problems


def _capture_destination(env: Environment, doc: Document) -> list[Problem]:
    capture = env.monitoring.capture
    if capture is None:
        if any(a.max_prediction_ks is not None or a.max_input_ks is not None for a in env.rollout.analyses):
            return [
                doc.problem(
                    ("rollout", "analysis"),
                    "max_prediction_ks and max_input_ks read data capture: set monitoring.capture",
                )
            ]
        return []
    if isinstance(env.target, SageMakerTargetConfig) and capture.destination is None:
        return [
            doc.problem(
                ("monitoring", "capture"),
                "a SageMaker endpoint captures to S3: set destination: s3://BUCKET/PREFIX",
            )
        ]
    if isinstance(env.target, LocalTargetConfig) and capture.destination is not None:
        return [
            doc.problem(
                ("monitoring", "capture", "destination"),
                f"the local target captures into {env.target.state_dir}/capture; remove destination",
            )
        ]
    return []


def _ground_truth(env: Environment, config: RepoConfig, doc: Document) -> list[Problem]:
    truth = env.monitoring.ground_truth
    problems = []
    if truth is not None and isinstance(env.target, SageMakerTargetConfig) and truth.destination is None:
        problems.append(
            doc.problem(
                ("monitoring", "ground_truth"),
                "a SageMaker endpoint's labels arrive in S3: set destination: s3://BUCKET/PREFIX",
            )
        )
    if truth is not None and isinstance(env.target, LocalTargetConfig) and truth.destination is not None:
        problems.append(
            doc.problem(
                ("monitoring", "ground_truth", "destination"),
                f"the local target reads labels from {env.target.state_dir}/ground-truth; remove destination",
            )
        )
    if not any(a.max_misclassification_increase is not None for a in env.rollout.analyses):
        return problems
    missing = [
        name for name, part in (("capture", env.monitoring.capture), ("ground_truth", truth)) if part is None
    ]
    if missing:
        problems.append(
            doc.problem(
                ("rollout", "analysis"),
                "max_misclassification_increase joins data capture with labels: set "
                + " and ".join(f"monitoring.{m}" for m in missing),
            )
        )
    for name in env.models:
        spec = config.models.get(name)
        if spec is not None and spec.task != "binary_classification":
            problems.append(
                doc.problem(
                    ("models", name),
                    f"max_misclassification_increase judges binary classifiers; model {name!r} is "
                    f"{spec.task} (models/{name}/model.yaml)",
                )
            )
    return problems


def _challengers(env: Environment, doc: Document) -> list[Problem]:
    """`challengers` join an experiment: each gets the candidate's share, and stable keeps some."""
    problems = []
    weights = [s.weight for s in env.rollout.steps if isinstance(s, SetWeight)]
    judged = [i for i, s in enumerate(env.rollout.steps) if isinstance(s, Analysis | Shadow)]
    for name, deployment in env.models.items():
        if not deployment.challengers:
            continue
        where = ("models", name, "challengers")
        arms = len(deployment.versions)
        if env.rollout.strategy != "experiment":
            problems.append(
                doc.problem(where, "challengers need strategy: experiment; a canary rolls out one version")
            )
            continue
        if deployment.version in deployment.challengers:
            problems.append(doc.problem(where, f"v{deployment.version} is the model's version already"))
        if judged:
            problems.append(
                doc.problem(
                    ("rollout", "steps", judged[0]),
                    f"an experiment with challengers ({name}) takes set_weight, bake and experiment steps: "
                    "analysis and shadow steps judge one candidate against stable",
                )
            )
        if len(weights) == 1 and arms * weights[0] >= 100:
            problems.append(
                doc.problem(
                    where,
                    f"set_weight {weights[0]} gives each of the {arms} versions {weights[0]}% and leaves "
                    f"stable {100 - arms * weights[0]}%: use set_weight {99 // arms} or less",
                )
            )
    return problems


def _rollout_steps(env: Environment, doc: Document) -> list[Problem]:
    if env.rollout.strategy == "experiment":
        return []  # a held split, not a canary to 100 %: `_experiment_steps` checks its shape
    weights = [(i, s.weight) for i, s in enumerate(env.rollout.steps) if isinstance(s, SetWeight)]
    if not weights:
        return [
            doc.problem(
                ("rollout", "steps"), "needs at least one set_weight step, the last one set_weight: 100"
            )
        ]
    problems = []
    for (_, previous), (i, weight) in itertools.pairwise(weights):
        if weight <= previous:
            problems.append(
                doc.problem(
                    ("rollout", "steps", i, "set_weight"),
                    f"weights must strictly increase: {weight} follows {previous}",
                )
            )
    last_index, last = weights[-1]
    if last != 100:
        problems.append(
            doc.problem(
                ("rollout", "steps", last_index, "set_weight"), f"the last set_weight must be 100, not {last}"
            )
        )
    first_weight = weights[0][0]
    for i, step in enumerate(env.rollout.steps):
        if isinstance(step, Shadow) and i > first_weight:
            problems.append(
                doc.problem(
                    ("rollout", "steps", i, "shadow"),
                    "a shadow step must come before the first set_weight: once the candidate answers "
                    "clients it is no longer in shadow",
                )
            )
    if env.rollout.strategy == "blue_green" and len(weights) != 1:
        problems.append(doc.problem(("rollout", "steps"), "blue_green takes a single set_weight: 100 step"))
    if env.rollout.strategy in NATIVE_STRATEGIES:
        problems += _native_steps(env, doc, [w for _, w in weights])
    return problems


NATIVE_WAIT_MAX = 28800 - 1800  # AWS's MaximumExecutionTimeoutInSeconds (28800), less provisioning time


def _native_steps(env: Environment, doc: Document, weights: list[int]) -> list[Problem]:
    """SageMaker shifts by itself in the shapes it knows: a canary (`set_weight: N` <= 50, `bake`,
    `set_weight: 100`), or linear steps of one size (N, 2N, ..., 100, each N in 10..50, a `bake` after
    each but the last). Its canary is a share of the new fleet's instances, so it needs two or more."""
    strategy = env.rollout.strategy
    problems = []
    if not isinstance(env.target, SageMakerTargetConfig):
        problems.append(
            doc.problem(
                ("rollout", "strategy"),
                f"{strategy} needs a sagemaker target: only SageMaker shifts by itself",
            )
        )
    steps = env.rollout.steps
    bakes = [s.seconds for s in steps if isinstance(s, Bake)]
    kinds = [type(s).__name__ for s in steps]
    step = weights[0] if weights else 0
    if strategy == "sagemaker_canary":
        shape_ok = kinds == ["SetWeight", "Bake", "SetWeight"] and 1 <= step <= 50 and weights[-1] == 100
        shape = "set_weight: N (1..50), bake: DURATION, set_weight: 100"
    else:
        expected = list(range(step, 101, step)) if 10 <= step <= 50 and 100 % step == 0 else []
        shape_ok = weights == expected and kinds == ["SetWeight", "Bake"] * (len(weights) - 1) + ["SetWeight"]
        shape = (
            "set_weight: N, bake: D, set_weight: 2N, bake: D, ... set_weight: 100 (N in 10..50 dividing 100)"
        )
    if not shape_ok:
        problems.append(doc.problem(("rollout", "steps"), f"{strategy} takes the steps {shape}"))
    elif len(set(bakes)) > 1:
        problems.append(doc.problem(("rollout", "steps"), f"{strategy} bakes every step for the same time"))
    elif sum(bakes) > NATIVE_WAIT_MAX:
        problems.append(
            doc.problem(
                ("rollout", "steps"), f"{strategy}: bakes of {sum(bakes):g} s exceed SageMaker's limit"
            )
        )
    for name, deployment in env.models.items():
        if deployment.serving.instance_count < 2:
            problems.append(
                doc.problem(
                    ("models", name, "serving", "instance_count"),
                    f"{strategy} shifts whole instances of the new fleet: it needs instance_count 2 or more, "
                    f"not {deployment.serving.instance_count}",
                )
            )
    if any(isinstance(s, Analysis | Shadow) for s in steps):
        problems.append(
            doc.problem(
                ("rollout", "steps"),
                f"{strategy}: CloudWatch alarms judge each step (analysis.max_error_rate and analysis.alarms); "
                "analysis and shadow steps need modelcd's own controller (strategy: canary)",
            )
        )
    return problems


def _endpoint_names(env: Environment, doc: Document) -> list[Problem]:
    problems = []
    for name in env.models:
        endpoint = env.endpoint_name(name)
        if len(endpoint) > SAGEMAKER_NAME_MAX or not SAGEMAKER_NAME.match(endpoint):
            problems.append(
                doc.problem(
                    ("models", name),
                    f"endpoint name {endpoint!r} ({len(endpoint)} characters) breaks SageMaker's rule: letters, digits "
                    f"and hyphens, at most {SAGEMAKER_NAME_MAX} characters; shorten target.endpoint_prefix or the model name",
                )
            )
    return problems


def _promotion_source(
    env: Environment, config: RepoConfig, doc: Document, present: frozenset[str]
) -> list[Problem]:
    if env.promote_from is None or (
        env.promote_from not in config.environments and f"environments/{env.promote_from}.yaml" in present
    ):
        return []
    if env.promote_from == env.name:
        return [doc.problem(("promote_from",), "an environment cannot promote from itself")]
    if env.promote_from not in config.environments:
        known = (
            ", ".join(
                sorted(
                    p.removeprefix("environments/").removesuffix(".yaml")
                    for p in present
                    if p.startswith("environments/")
                )
            )
            or "none"
        )
        return [doc.problem(("promote_from",), f"unknown environment {env.promote_from!r} (known: {known})")]
    chain: list[str] = [env.name]
    current: str | None = env.promote_from
    while current is not None:
        if current in chain:
            cycle = " -> ".join([*chain[chain.index(current) :], current])
            return [doc.problem(("promote_from",), f"promotion cycle: {cycle}")]
        chain.append(current)
        upstream = config.environments.get(current)
        current = upstream.promote_from if upstream else None
    return []


def _target_key(env: Environment) -> tuple[str, str]:
    target = env.target
    scope = target.region if isinstance(target, SageMakerTargetConfig) else "local"
    return target.kind, scope


def _endpoint_collisions(config: RepoConfig, docs: Mapping[str, Document]) -> list[Problem]:
    problems = []
    seen_prefix: dict[tuple[str, str, str], Environment] = {}
    seen_endpoint: dict[tuple[str, str, str], tuple[Environment, str]] = {}
    for env in sorted(config.environments.values(), key=lambda e: e.name):
        doc = docs[env.path]
        kind, scope = _target_key(env)
        prefix_key = (kind, scope, env.target.endpoint_prefix)
        if prefix_key in seen_prefix:
            other = seen_prefix[prefix_key]
            problems.append(
                doc.problem(
                    ("target", "endpoint_prefix"),
                    f"environment {other.name!r} ({other.path}) already targets endpoint prefix "
                    f"{env.target.endpoint_prefix!r}; two environments never share endpoints",
                )
            )
        seen_prefix.setdefault(prefix_key, env)
        for model in env.models:
            key = (kind, scope, env.endpoint_name(model))
            if key in seen_endpoint and seen_endpoint[key][0].name != env.name:
                other_env, other_model = seen_endpoint[key]
                problems.append(
                    doc.problem(
                        ("models", model),
                        f"endpoint {key[2]!r} is also the endpoint of model {other_model!r} in "
                        f"environment {other_env.name!r}",
                    )
                )
            seen_endpoint.setdefault(key, (env, model))
    return problems


def _gate_against_model(
    gate: Gate, config: RepoConfig, doc: Document, present: frozenset[str]
) -> list[Problem]:
    spec = config.models.get(gate.model)
    if spec is None and f"models/{gate.model}/model.yaml" in present:
        return []
    if spec is None:
        return [doc.problem((), f"gate for {gate.model!r} but there is no models/{gate.model}/model.yaml")]
    problems = []
    allowed = METRICS_BY_TASK[spec.task]
    slice_names = {"overall"} | {s.name for s in gate.slices} | {f for s in gate.slices for f in s.features}
    for i, check in enumerate(gate.metrics):
        if check.metric not in allowed:
            problems.append(
                doc.problem(
                    ("metrics", i, "metric"),
                    f"metric {check.metric!r} does not apply to a {spec.task} model "
                    f"(use one of {', '.join(sorted(allowed))})",
                )
            )
        for j, name in enumerate(check.slices or ()):
            if name not in slice_names:
                problems.append(
                    doc.problem(
                        ("metrics", i, "slices", j),
                        f"unknown slice {name!r} (declared: {', '.join(sorted(slice_names))})",
                    )
                )
    problems += _threshold_ranges(gate, doc)
    problems += _slice_features(gate, spec.input_names, spec.path, doc)
    if gate.dataset.label in spec.input_names:
        problems.append(
            doc.problem(
                ("dataset", "label"),
                f"label column {gate.dataset.label!r} is also a model input in {spec.path}",
            )
        )
    return problems


def _dataset_pin(gate: Gate, doc: Document) -> list[Problem]:
    """An S3 object can change under a gate without a commit: its bytes must be pinned."""
    if gate.dataset.uri.startswith("s3://") and gate.dataset.sha256 is None:
        return [
            doc.problem(
                ("dataset", "path"),
                f"an s3:// dataset needs `sha256:` (the object can change without a commit; pin its bytes: "
                f"aws s3 cp {gate.dataset.uri} - | sha256sum)",
            )
        ]
    return []


def _describe_range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    return f"at least {low:g}" if low is not None else f"at most {high:g}"


def _threshold_ranges(gate: Gate, doc: Document) -> list[Problem]:
    """`value: {min, max}` inside the metric's range; an absolute change tolerance no wider than it."""
    problems = []
    for i, check in enumerate(gate.metrics):
        low, high = METRIC_RANGES.get(check.metric, (None, None))
        bounds = {"min": check.value.min, "max": check.value.max} if check.value else {}
        for key, bound in bounds.items():
            if bound is None:
                continue
            if (low is not None and bound < low) or (high is not None and bound > high):
                problems.append(
                    doc.problem(
                        ("metrics", i, "value", key),
                        f"{check.metric} is always {_describe_range(low, high)}: "
                        f"{key} {bound:g} is outside its range",
                    )
                )
        absolute = check.change.absolute if check.change else None
        if absolute is not None and low is not None and high is not None and absolute > high - low:
            problems.append(
                doc.problem(
                    ("metrics", i, "change", "absolute"),
                    f"{check.metric} moves by at most {high - low:g}: a tolerance of {absolute:g} accepts anything",
                )
            )
    return problems


def _slice_features(gate: Gate, inputs: tuple[str, ...], model_path: str, doc: Document) -> list[Problem]:
    """Every sliced feature is one of the model's inputs (the dataset carries them, the report names them)."""
    problems = []
    for i, spec in enumerate(gate.slices):
        for j, feature in enumerate(spec.features):
            if feature not in inputs:
                key = ("slices", i, "feature") if len(spec.features) == 1 else ("slices", i, "cross", j)
                problems.append(
                    doc.problem(
                        key,
                        f"slice feature {feature!r} is not an input of the model ({model_path} has "
                        f"{', '.join(inputs)})",
                    )
                )
    return problems

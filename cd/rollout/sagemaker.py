"""SageMaker target (boto3): one endpoint per (environment, model), one production variant per version.

- Models are created from the image pinned by digest (`repo@sha256:...`), named
  `<endpoint>-v<version>-<hash of image>`; endpoint configs are named `<endpoint>-c<hash of content>`,
  so a re-run after a crash reuses what the first run created.
- `apply_variants`: CreateEndpoint on a first deploy, otherwise UpdateEndpoint to the content-hashed
  config (nothing when it is already the live config). The controller checks afterwards that the
  endpoint settled on that config: a SageMaker-initiated rollback also ends `InService`.
- `set_weights`: UpdateEndpointWeightsAndCapacities; the controller reads `CurrentWeight` back.
- The rollout record lives in the endpoint's tags (`modelcd:*`, see `cd.rollout.record`).
- Metrics: CloudWatch GetMetricData per variant over the window (AWS/SageMaker Invocations,
  Invocation4XXErrors, Invocation5XXErrors, ModelLatency in microseconds); alarms: DescribeAlarms.
- Retries: botocore's `standard` (or `adaptive`) retry mode, set explicitly and bounded; what is left
  after them is mapped to the `Target*Error` classes of `cd.rollout.target`.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from cd.aws import RetryMode, client_config
from cd.config.model import CaptureConfig, NativeTraffic
from cd.errors import TargetError
from cd.rollout.record import PREFIX, REVISION, revision_of
from cd.rollout.target import (
    LatencyStatistic,
    ObservedEndpoint,
    ObservedVariant,
    RecordConflictError,
    TargetBusyError,
    TargetCapacityError,
    TargetOutcomeUnknownError,
    TargetTransientError,
    VariantMetrics,
    VariantSpec,
    version_of_variant,
)

NAME_MAX = 63  # SageMaker model / endpoint-config name limit
WRITE_ID = PREFIX + "write-id"  # which write the record last took (compare-and-set read-back)

TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalServerError",
    }
)
CAPACITY_CODES = frozenset({"ResourceLimitExceeded", "InsufficientCapacityError", "CapacityError"})
MUTATING = frozenset(
    {
        "RegisterScalableTarget",
        "DeregisterScalableTarget",
        "PutScalingPolicy",
        "DeleteScalingPolicy",
        "PutMetricAlarm",
        "CreateEndpoint",
        "UpdateEndpoint",
        "UpdateEndpointWeightsAndCapacities",
        "CreateModel",
        "CreateEndpointConfig",
    }
)


def _digest(text: str, n: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def _bounded(prefix: str, suffix: str) -> str:
    return f"{prefix[: NAME_MAX - len(suffix) - 1].rstrip('-')}-{suffix}"


def model_name(endpoint: str, spec: VariantSpec) -> str:
    return _bounded(endpoint, f"{spec.name}-{_digest(spec.image, 8)}")


def data_capture_config(capture: CaptureConfig) -> dict[str, Any]:
    """DataCaptureConfig for CreateEndpointConfig: requests and answers, JSON and CSV bodies kept as text
    (others base64), under the environment's destination."""
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": capture.sampling_percentage,
        "DestinationS3Uri": capture.destination or "",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {
            "CsvContentTypes": ["text/csv"],
            "JsonContentTypes": ["application/json"],
        },
    }


def config_name(
    endpoint: str,
    variants: Sequence[VariantSpec],
    weights: Mapping[str, float],
    shadow: VariantSpec | None = None,
    capture: CaptureConfig | None = None,
) -> str:
    rows: list[list[Any]] = [
        [v.name, model_name(endpoint, v), v.instance_type, v.instance_count, float(weights.get(v.name, 0.0))]
        for v in sorted(variants, key=lambda v: v.name)
    ]
    if shadow is not None:  # without a shadow the content (so the name) is what it always was
        rows.append(
            ["shadow", shadow.name, model_name(endpoint, shadow), shadow.instance_type, shadow.instance_count]
        )
    if capture is not None:  # likewise: without capture the name is unchanged
        rows.append(["capture", capture.sampling_percentage, capture.destination])
    return _bounded(endpoint, f"c{_digest(json.dumps(rows), 12)}")


# Every UpdateEndpoint provisions a new fleet (AWS: blue/green). Without a DeploymentConfig, SageMaker
# shifts all traffic to it at once and terminates the old fleet at once, so the instances that baked
# through the canary are replaced by ones that never served. modelcd asks for all-at-once with a baking
# period: the old fleet stays until the new one has served this long, and the alarms (when the policy
# names any) roll it back on AWS's side, even when the deploy job died mid-update. All-at-once because
# AWS's canary and linear modes need the canary at most half the fleet, which one instance cannot be.
FLEET_BAKE_SECONDS = 300
UPDATE_TIMEOUT_SECONDS = 3600  # AWS: 600..28800, and more than the waits


SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def scaling_resource(endpoint: str, variant: str) -> str:
    """Application Auto Scaling's resource id of a production variant."""
    return f"endpoint/{endpoint}/variant/{variant}"


def deployment_config(alarms: Sequence[str], bake_seconds: int = FLEET_BAKE_SECONDS) -> dict[str, Any]:
    """The DeploymentConfig of every UpdateEndpoint modelcd makes (see FLEET_BAKE_SECONDS)."""
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": bake_seconds},
            "TerminationWaitInSeconds": 0,
            "MaximumExecutionTimeoutInSeconds": max(UPDATE_TIMEOUT_SECONDS, 2 * bake_seconds + 600),
        }
    }
    if alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in alarms]}
    return config


def native_deployment_config(traffic: NativeTraffic, alarms: Sequence[str]) -> dict[str, Any]:
    """SageMaker's own canary or linear blue/green shift (`strategy: sagemaker_canary|linear`), rolled
    back by AWS when one of `alarms` fires during a baking period."""
    size = {"Type": "CAPACITY_PERCENT", "Value": traffic.step_percent}
    routing: dict[str, Any] = {"Type": traffic.mode, "WaitIntervalInSeconds": traffic.wait_seconds}
    routing["CanarySize" if traffic.mode == "CANARY" else "LinearStepSize"] = size
    timeout = min(28800, max(UPDATE_TIMEOUT_SECONDS, traffic.total_wait_seconds + 1800))
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": 0,
            "MaximumExecutionTimeoutInSeconds": timeout,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": a} for a in alarms]},
    }


def error_alarm_name(endpoint: str, variant: str) -> str:
    return f"modelcd-{endpoint}-{variant}-5xx"


class SageMakerEndpoints:
    """`cd.rollout.target.Target` over SageMaker and CloudWatch clients (boto3)."""

    look_seconds = 60.0  # CloudWatch's SageMaker metrics arrive per minute

    def __init__(
        self,
        sagemaker: Any,
        cloudwatch: Any,
        role_arn: str,
        *,
        alarms: Sequence[str] = (),
        autoscaling: Any = None,
        capture: CaptureConfig | None = None,
    ) -> None:
        self.sm = sagemaker
        self.cw = cloudwatch
        self.aas = autoscaling  # application-autoscaling client (None: scaling is not handed over)
        self.role_arn = role_arn
        self.alarms = tuple(alarms)  # AWS rolls an endpoint update back on its own when one fires
        self.capture = capture  # DataCaptureConfig of every endpoint config created (None: no capture)
        self._images: dict[str, str] = {}  # model name -> image (models are immutable)
        self._configs: dict[str, dict[str, Any]] = {}  # config name -> its description (immutable)

    @classmethod
    def create(
        cls,
        region: str,
        role_arn: str,
        *,
        retry_mode: RetryMode = "standard",
        max_attempts: int = 5,
        session: Any = None,
        alarms: Sequence[str] = (),
        capture: CaptureConfig | None = None,
    ) -> SageMakerEndpoints:
        import boto3

        session = session or boto3.session.Session()
        cfg = client_config(retry_mode, max_attempts)
        return cls(
            session.client("sagemaker", region_name=region, config=cfg),
            session.client("cloudwatch", region_name=region, config=cfg),
            role_arn,
            alarms=alarms,
            autoscaling=session.client("application-autoscaling", region_name=region, config=cfg),
            capture=capture,
        )

    # ------------------------------------------------------------------------------ calls

    def _call(self, service: str, op: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        from cd.aws import credentials_error

        try:
            return fn(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            credentials = credentials_error(exc, f"{service} {op}")
            if credentials is not None:
                raise credentials from exc
            if not isinstance(exc, ClientError):
                return self._transport_error(service, op, exc)
            err = exc.response.get("Error", {})
            code, message = err.get("Code", ""), err.get("Message", str(exc))
            text = f"{service} {op} failed: {code}: {message}"
            if code in TRANSIENT_CODES:
                raise TargetTransientError(text) from exc
            if code in CAPACITY_CODES or "insufficient capacity" in message.lower():
                raise TargetCapacityError(text) from exc
            if code == "ValidationException" and "in-progress" in message:
                raise TargetBusyError(text) from exc
            raise TargetError(text) from exc

    @staticmethod
    def _transport_error(service: str, op: str, exc: Exception) -> Any:
        """A botocore error that is not an AWS answer: timeouts and connection failures are transient;
        a read timeout after a mutating call leaves its outcome unknown."""
        from botocore.exceptions import (
            ConnectionClosedError,
            ConnectTimeoutError,
            EndpointConnectionError,
            ReadTimeoutError,
        )

        if isinstance(exc, ReadTimeoutError | ConnectionClosedError):
            if op in MUTATING:
                raise TargetOutcomeUnknownError(f"{service} {op}: {exc}; it may have been applied") from exc
            raise TargetTransientError(f"{service} {op}: {exc}") from exc
        if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
            raise TargetTransientError(f"{service} {op}: {exc}") from exc
        raise exc

    def _list(self, op: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
        """Every page of a SageMaker List* call (NextToken), not just the first 100."""
        items: list[dict[str, Any]] = []
        request = {**kwargs, "MaxResults": 100}
        while True:
            page = self._sm(op, **request)
            items.extend(page.get(key, []))
            token = page.get("NextToken")
            if not token:
                return items
            request["NextToken"] = token

    def _sm(self, op: str, **kwargs: Any) -> Any:
        method = re.sub(r"(?<!^)(?=[A-Z])", "_", op).lower()
        return self._call("SageMaker", op, getattr(self.sm, method), **kwargs)

    @staticmethod
    def _not_found(exc: TargetError) -> bool:
        return "ValidationException" in str(exc) and (
            "Could not find" in str(exc) or "does not exist" in str(exc)
        )

    def _describe_endpoint(self, endpoint: str) -> dict[str, Any] | None:
        try:
            return dict(self._sm("DescribeEndpoint", EndpointName=endpoint))
        except TargetError as exc:
            if self._not_found(exc):
                return None
            raise

    def _config(self, name: str) -> dict[str, Any]:
        if name not in self._configs:
            self._configs[name] = dict(self._sm("DescribeEndpointConfig", EndpointConfigName=name))
        return self._configs[name]

    def _config_variants(self, name: str) -> list[dict[str, Any]]:
        return list(self._config(name)["ProductionVariants"])

    def _config_shadows(self, name: str) -> list[dict[str, Any]]:
        return list(self._config(name).get("ShadowProductionVariants", []))

    def _image(self, model: str) -> str:
        if model not in self._images:
            try:
                described = self._sm("DescribeModel", ModelName=model)
            except TargetError as exc:
                if self._not_found(exc):
                    return ""
                raise
            self._images[model] = described.get("PrimaryContainer", {}).get("Image", "")
        return self._images[model]

    # ------------------------------------------------------------------------------ Target

    def observe(self, endpoint: str) -> ObservedEndpoint | None:
        described = self._describe_endpoint(endpoint)
        if described is None:
            return None
        config = described.get("EndpointConfigName", "")
        variants = self._observed_variants(
            self._config_variants(config) if config else [], described.get("ProductionVariants", [])
        )
        shadows = self._observed_variants(
            self._config_shadows(config) if config else [], described.get("ShadowProductionVariants", [])
        )
        return ObservedEndpoint(
            name=endpoint,
            status=described["EndpointStatus"],
            config_name=config,
            variants=variants,
            record=self._record(described["EndpointArn"]),
            failure_reason=described.get("FailureReason", ""),
            shadow=shadows[0] if shadows else None,
        )

    def _observed_variants(
        self, configured_list: list[dict[str, Any]], live_list: list[dict[str, Any]]
    ) -> tuple[ObservedVariant, ...]:
        configured = {v["VariantName"]: v for v in configured_list}
        live = {v["VariantName"]: v for v in live_list}
        variants = []
        for name in live or configured:
            conf, cur = configured.get(name, {}), live.get(name, {})
            initial = float(conf.get("InitialVariantWeight", 0.0))
            variants.append(
                ObservedVariant(
                    name=name,
                    model_version=version_of_variant(name),
                    image=self._image(conf["ModelName"]) if "ModelName" in conf else "",
                    desired_weight=float(cur.get("DesiredWeight", initial)),
                    current_weight=float(cur.get("CurrentWeight", 0.0 if live else initial)),
                    instance_type=conf.get("InstanceType", ""),
                    instance_count=int(
                        cur.get("CurrentInstanceCount") or conf.get("InitialInstanceCount", 0)
                    ),
                )
            )
        return tuple(variants)

    def _ensure_model(self, endpoint: str, spec: VariantSpec) -> str:
        if "@sha256:" not in spec.image:
            raise TargetError(
                f"image {spec.image!r} for {spec.name} is not pinned by digest (repo@sha256:...)"
            )
        name = model_name(endpoint, spec)
        if not self._image(name):
            self._sm(
                "CreateModel",
                ModelName=name,
                ExecutionRoleArn=self.role_arn,
                PrimaryContainer={"Image": spec.image},
                Tags=[
                    {"Key": "modelcd:endpoint", "Value": endpoint},
                    {"Key": "modelcd:version", "Value": str(spec.model_version)},
                ],
            )
            self._images[name] = spec.image
        return name

    def apply_variants(
        self,
        endpoint: str,
        variants: Sequence[VariantSpec],
        weights: Mapping[str, float],
        shadow: VariantSpec | None = None,
        traffic: NativeTraffic | None = None,
    ) -> str:
        if shadow is not None and len(variants) != 1:
            raise TargetError(  # CreateEndpointConfig: one production variant beside a shadow variant
                f"{endpoint}: a shadow variant needs exactly one production variant, not {len(variants)}"
            )
        models = {v.name: self._ensure_model(endpoint, v) for v in (*variants, *([shadow] if shadow else []))}
        config = config_name(endpoint, variants, weights, shadow, self.capture)

        def row(v: VariantSpec, weight: float) -> dict[str, Any]:
            return {
                "VariantName": v.name,
                "ModelName": models[v.name],
                "InstanceType": v.instance_type,
                "InitialInstanceCount": v.instance_count,
                "InitialVariantWeight": weight,
            }

        try:
            self._config(config)
        except TargetError as exc:
            if not self._not_found(exc):
                raise
            extra: dict[str, Any] = {}
            if self.capture is not None:
                extra["DataCaptureConfig"] = data_capture_config(self.capture)
            if shadow is not None:
                # The shadow's weight relative to the production variant's is the share of requests
                # SageMaker copies to it: equal weights copy every request.
                extra["ShadowProductionVariants"] = [
                    row(shadow, float(weights.get(variants[0].name, 1.0)) or 1.0)
                ]
            self._sm(
                "CreateEndpointConfig",
                EndpointConfigName=config,
                ProductionVariants=[row(v, float(weights.get(v.name, 0.0))) for v in variants],
                Tags=[{"Key": "modelcd:endpoint", "Value": endpoint}],
                **extra,
            )
        described = self._describe_endpoint(endpoint)
        if described is None:
            self._sm("CreateEndpoint", EndpointName=endpoint, EndpointConfigName=config)
        elif described.get("EndpointConfigName") != config:
            live = [v["VariantName"] for v in described.get("ProductionVariants", [])]
            self._hand_over_scaling(endpoint, live, [v.name for v in variants])
            if traffic is None:
                deployment = deployment_config(self.alarms)
            else:
                alarm = self._error_alarm(endpoint, variants[0].name, traffic.max_error_rate)
                deployment = native_deployment_config(traffic, (alarm, *traffic.alarms))
            self._sm(
                "UpdateEndpoint",
                EndpointName=endpoint,
                EndpointConfigName=config,
                DeploymentConfig=deployment,
            )
        return config

    def _error_alarm(self, endpoint: str, variant: str, max_error_rate: float) -> str:
        """The CloudWatch alarm a native shift is rolled back by: the new variant's 5xx share of its
        invocations, per minute, above `max_error_rate` in 2 of 3 minutes (no traffic: not breaching).
        PutMetricAlarm replaces an alarm of the same name, so a rerun writes the same one again."""
        name = error_alarm_name(endpoint, variant)
        dimensions = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]

        def metric(key: str, metric_name: str) -> dict[str, Any]:
            stat = {
                "Metric": {"Namespace": "AWS/SageMaker", "MetricName": metric_name, "Dimensions": dimensions}
            }
            return {"Id": key, "MetricStat": {**stat, "Period": 60, "Stat": "Sum"}, "ReturnData": False}

        self._call(
            "CloudWatch",
            "PutMetricAlarm",
            self.cw.put_metric_alarm,
            AlarmName=name,
            AlarmDescription=f"modelcd: 5xx rate of {endpoint} {variant} above {max_error_rate:g}",
            Metrics=[
                metric("errors", "Invocation5XXErrors"),
                metric("calls", "Invocations"),
                {"Id": "rate", "Expression": "errors / calls", "Label": "5xx rate", "ReturnData": True},
            ],
            ComparisonOperator="GreaterThanThreshold",
            Threshold=max_error_rate,
            EvaluationPeriods=3,
            DatapointsToAlarm=2,
            TreatMissingData="notBreaching",
        )
        return name

    # ------------------------------------------------------------------------------ auto scaling

    def _hand_over_scaling(self, endpoint: str, live: Sequence[str], kept: Sequence[str]) -> None:
        """Before an update removes variants: a kept live variant without auto scaling takes the scaling
        of a removed one (the candidate gets stable's when it is finalized alone), then each removed
        variant's scalable target is deregistered, which AWS requires before a variant with auto scaling
        can be removed. Registering and putting a policy are idempotent: a rerun repeats them safely."""
        if self.aas is None:
            return
        removed = [v for v in live if v not in kept]
        if not removed:
            return
        targets = {v: self._scalable_target(endpoint, v) for v in live}
        source = next(((v, t) for v in removed if (t := targets.get(v)) is not None), None)
        for name in kept:
            if source is not None and name in live and targets.get(name) is None:
                self._copy_scaling(endpoint, source[0], name, source[1])
        for name in removed:
            if targets.get(name) is not None:
                for policy in self._scaling_policies(endpoint, name):  # AWS deletes them with the target
                    self._aas(
                        "DeleteScalingPolicy",
                        PolicyName=policy["PolicyName"],
                        ServiceNamespace="sagemaker",
                        ResourceId=scaling_resource(endpoint, name),
                        ScalableDimension=SCALABLE_DIMENSION,
                    )
                self._aas(
                    "DeregisterScalableTarget",
                    ServiceNamespace="sagemaker",
                    ResourceId=scaling_resource(endpoint, name),
                    ScalableDimension=SCALABLE_DIMENSION,
                )

    def _scalable_target(self, endpoint: str, variant: str) -> dict[str, Any] | None:
        found = self._aas(
            "DescribeScalableTargets",
            ServiceNamespace="sagemaker",
            ResourceIds=[scaling_resource(endpoint, variant)],
            ScalableDimension=SCALABLE_DIMENSION,
        ).get("ScalableTargets", [])
        return dict(found[0]) if found else None

    def _copy_scaling(self, endpoint: str, source: str, target: str, registered: dict[str, Any]) -> None:
        resource = scaling_resource(endpoint, target)
        self._aas(
            "RegisterScalableTarget",
            ServiceNamespace="sagemaker",
            ResourceId=resource,
            ScalableDimension=SCALABLE_DIMENSION,
            MinCapacity=int(registered["MinCapacity"]),
            MaxCapacity=int(registered["MaxCapacity"]),
        )
        for policy in self._scaling_policies(endpoint, source):
            settings = {
                key: policy[key]
                for key in ("TargetTrackingScalingPolicyConfiguration", "StepScalingPolicyConfiguration")
                if key in policy
            }
            self._aas(
                "PutScalingPolicy",
                PolicyName=policy["PolicyName"],
                ServiceNamespace="sagemaker",
                ResourceId=resource,
                ScalableDimension=SCALABLE_DIMENSION,
                PolicyType=policy["PolicyType"],
                **settings,
            )

    def _scaling_policies(self, endpoint: str, variant: str) -> list[dict[str, Any]]:
        return list(
            self._aas(
                "DescribeScalingPolicies",
                ServiceNamespace="sagemaker",
                ResourceId=scaling_resource(endpoint, variant),
                ScalableDimension=SCALABLE_DIMENSION,
            ).get("ScalingPolicies", [])
        )

    def _aas(self, op: str, **kwargs: Any) -> Any:
        method = re.sub(r"(?<!^)(?=[A-Z])", "_", op).lower()
        return self._call("Application Auto Scaling", op, getattr(self.aas, method), **kwargs)

    def set_weights(self, endpoint: str, weights: Mapping[str, float]) -> None:
        self._sm(
            "UpdateEndpointWeightsAndCapacities",
            EndpointName=endpoint,
            DesiredWeightsAndCapacities=[
                {"VariantName": n, "DesiredWeight": float(w)} for n, w in weights.items()
            ],
        )

    def write_record(
        self, endpoint: str, record: Mapping[str, str], *, expect_revision: str | None = None
    ) -> None:
        """AddTags. SageMaker has no conditional tagging, so the compare-and-set is read, compare, write,
        read back: the write carries a fresh `modelcd:write-id`, and a read-back that shows another
        writer's id (or revision) is a conflict. A race is left only between two writers' reads and
        writes within the same few milliseconds; docs/rollout.md says so."""
        described = self._describe_endpoint(endpoint)
        if described is None:
            raise TargetError(f"cannot record rollout state: endpoint {endpoint} does not exist")
        arn = described["EndpointArn"]
        if expect_revision is None:
            self._sm("AddTags", ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in record.items()])
            return
        current = revision_of(self._record(arn))
        if current != expect_revision:
            raise self._conflict(endpoint, current, expect_revision)
        write_id = uuid.uuid4().hex[:16]
        tags = {**record, WRITE_ID: write_id}
        self._sm("AddTags", ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        after = self._record(arn)
        if after.get(WRITE_ID) != write_id or after.get(REVISION) != record.get(REVISION):
            raise self._conflict(endpoint, revision_of(after), record.get(REVISION, "?"))

    @staticmethod
    def _conflict(endpoint: str, current: str, expected: str) -> RecordConflictError:
        return RecordConflictError(
            f"endpoint {endpoint}: rollout record is at revision {current}, not {expected}: "
            "another writer changed it"
        )

    def _record(self, arn: str) -> dict[str, str]:
        """The endpoint's `modelcd:` tags, every page of ListTags."""
        return {
            t["Key"]: t["Value"]
            for t in self._list("ListTags", "Tags", ResourceArn=arn)
            if t["Key"].startswith(PREFIX)
        }

    def read_metrics(
        self, endpoint: str, variant: str, start: datetime, end: datetime, statistic: LatencyStatistic
    ) -> VariantMetrics:
        """Per-minute CloudWatch data over [start, end), summed; ModelLatency kept per minute for the
        sequential latency test. The start is rounded up to a whole minute: CloudWatch would round
        it down and count up to 59 s from before the window."""
        start = _next_minute(start)
        end = max(end, start + timedelta(minutes=1))
        dims = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
        queries = [
            ("inv", "Invocations", "Sum"),
            ("e4", "Invocation4XXErrors", "Sum"),
            ("e5", "Invocation5XXErrors", "Sum"),
            ("lat", "ModelLatency", statistic),
        ]
        request: dict[str, Any] = {
            "MetricDataQueries": [
                {
                    "Id": qid,
                    "MetricStat": {
                        "Metric": {"Namespace": "AWS/SageMaker", "MetricName": metric, "Dimensions": dims},
                        "Period": 60,
                        "Stat": stat,
                    },
                }
                for qid, metric, stat in queries
            ],
            "StartTime": start,
            "EndTime": end,
        }
        values: dict[str, list[float]] = {}
        minutes: dict[float, float] = {}
        while True:
            response = self._call("CloudWatch", "GetMetricData", self.cw.get_metric_data, **request)
            for r in response["MetricDataResults"]:
                pairs = [
                    (t, v)
                    for t, v in zip(r.get("Timestamps", []), r.get("Values", []), strict=False)
                    if v is not None
                ]
                values.setdefault(r["Id"], []).extend(v for _, v in pairs)
                if r["Id"] == "lat":
                    minutes.update({t.timestamp(): v / 1000.0 for t, v in pairs})  # microseconds
            token = response.get("NextToken")
            if not token:
                break
            request["NextToken"] = token
        latency = values.get("lat") or []
        return VariantMetrics(
            invocations=float(sum(values.get("inv", []))),
            errors_4xx=float(sum(values.get("e4", []))),
            errors_5xx=float(sum(values.get("e5", []))),
            latency_ms=max(latency) / 1000.0 if latency else None,
            statistic=statistic,
            latency_minutes=tuple(sorted(minutes.items())),
        )

    def alarms_in_alarm(self, names: Sequence[str]) -> tuple[str, ...]:
        if not names:
            return ()
        response = self._call("CloudWatch", "DescribeAlarms", self.cw.describe_alarms, AlarmNames=list(names))
        alarms = response.get("MetricAlarms", []) + response.get("CompositeAlarms", [])
        found = {a["AlarmName"]: a["StateValue"] for a in alarms}
        missing = [n for n in names if n not in found]
        if missing:
            raise TargetError(
                f"CloudWatch alarm(s) named in the environment do not exist: {', '.join(missing)}"
            )
        return tuple(n for n in names if found[n] == "ALARM")

    def cleanup(self, endpoint: str, keep: Sequence[VariantSpec]) -> tuple[str, ...]:
        described = self._describe_endpoint(endpoint)
        if described is None or described["EndpointStatus"] != "InService":
            return ()
        live_config = described["EndpointConfigName"]
        live_models = {
            v["ModelName"] for v in (*self._config_variants(live_config), *self._config_shadows(live_config))
        }
        keep_models = live_models | {model_name(endpoint, s) for s in keep}
        suffix = re.compile(r"-(c[0-9a-f]{12}|v\d+-[0-9a-f]{8})$")

        def ours(name: str) -> bool:
            match = suffix.search(name)
            return match is not None and name == _bounded(endpoint, match.group(1))

        deleted: list[str] = []
        configs = self._list("ListEndpointConfigs", "EndpointConfigs", NameContains=endpoint[:40])
        for c in configs:
            name = c["EndpointConfigName"]
            if ours(name) and name != live_config:
                self._sm("DeleteEndpointConfig", EndpointConfigName=name)
                self._configs.pop(name, None)
                deleted.append(name)
        for m in self._list("ListModels", "Models", NameContains=endpoint[:40]):
            name = m["ModelName"]
            if ours(name) and name not in keep_models:
                self._sm("DeleteModel", ModelName=name)
                self._images.pop(name, None)
                deleted.append(name)
        return tuple(deleted)


def _next_minute(moment: datetime) -> datetime:
    whole = moment.replace(second=0, microsecond=0)
    return whole if whole == moment else whole + timedelta(minutes=1)

"""Fixtures for rollout tests: moto (SageMaker extended, CloudWatch, STS), a fake clock, simulated traffic."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.sagemaker.models import sagemaker_backends

from cd.config.model import Analysis, AnalysisPolicy, Bake, RolloutPolicy, SetWeight
from cd.rollout.controller import CaptureReader, Controller, RolloutReport, Settings
from cd.rollout.decide import Desired
from cd.rollout.sagemaker import SageMakerEndpoints
from cd.rollout.target import VariantSpec
from tests.rollout.moto_sagemaker_ext import EndpointBehaviour, install

REGION = "eu-west-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/modelcd-sagemaker-execution"
ENDPOINT = "modelcd-staging-churn"
START = 1_700_000_000.0  # the fake clock's epoch (2023-11-14)

POLICY = AnalysisPolicy(
    min_requests=200,
    max_error_rate=0.01,
    max_error_rate_increase=0.005,
    max_latency_ratio=1.5,
    latency_statistic="Average",  # moto's CloudWatch computes no percentiles
    max_inconclusive=3,
    on_inconclusive="rollback",
)


def canary_steps(policy: AnalysisPolicy) -> RolloutPolicy:
    """The template's staging steps (10% -> 50% -> 100%, bakes of 5, 5 and 2 minutes) with `policy`."""
    return RolloutPolicy(
        strategy="canary",
        steps=(
            SetWeight(10),
            Bake(300),
            Analysis(policy),
            SetWeight(50),
            Bake(300),
            Analysis(policy),
            SetWeight(100),
            Bake(120),
            Analysis(policy),
        ),
        analysis=policy,
    )


STEPS = canary_steps(POLICY)


def image(version: int) -> str:
    digest = hashlib.sha256(f"churn-{version}".encode()).hexdigest()
    return f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/modelcd@sha256:{digest}"


def churn_desired(
    endpoint: str,
    spec_of: Callable[[int], VariantSpec],
    version: int,
    owner: str,
    challengers: tuple[int, ...] = (),
) -> Desired:
    """What git asks of `endpoint`: churn `version` (with `challengers`), each as `spec_of` builds it."""
    challenger_specs = tuple(spec_of(c) for c in challengers)
    return Desired(
        endpoint, "churn", spec_of(version), git_sha="abc123", owner=owner, challengers=challenger_specs
    )


def spec(version: int) -> VariantSpec:
    return VariantSpec(version, image(version), "ml.m5.large", 1)


class FakeClock:
    """A test double for time: `sleep` advances `now` and tells listeners which interval passed."""

    def __init__(self, start: float = START) -> None:
        self.t = start
        self.listeners: list[Callable[[float, float], None]] = []
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        before, self.t = self.t, self.t + max(0.0, seconds)
        self.slept.append(seconds)
        for listener in self.listeners:
            listener(before, self.t)


@dataclass(frozen=True)
class VersionProfile:
    """How a version serves in the simulated traffic: share of requests answered 5xx, and model latency."""

    error_rate: float = 0.002
    latency_ms: float = 50.0


@dataclass
class Traffic:
    """Requests at `rate` per second, split by the endpoint's current weights, written to CloudWatch."""

    cw: object
    rate: float = 10.0
    behaviours: dict[str, VersionProfile] = field(default_factory=dict)

    def __call__(self, t0: float, t1: float) -> None:
        from datetime import UTC, datetime

        backend = sagemaker_backends[ACCOUNT][REGION]
        endpoint = backend.endpoints.get(ENDPOINT)
        if endpoint is None or t1 <= t0:
            return
        variants = [v for v in endpoint.production_variants if v.get("CurrentWeight")]
        total = sum(float(v["CurrentWeight"]) for v in variants)
        shadows = getattr(endpoint, "_modelcd_shadows", [])  # a copy of every request (equal weights)
        stamp = datetime.fromtimestamp(t1 - 0.001, UTC)
        for v in [*variants, *shadows]:
            share = float(v["CurrentWeight"]) / total if v in variants else 1.0
            n = self.rate * (t1 - t0) * share
            b = self.behaviours.get(v["VariantName"], VersionProfile())
            dims = [
                {"Name": "EndpointName", "Value": ENDPOINT},
                {"Name": "VariantName", "Value": v["VariantName"]},
            ]
            data = [
                ("Invocations", n, "None"),
                ("Invocation4XXErrors", 0.0, "None"),
                ("Invocation5XXErrors", n * b.error_rate, "None"),
                ("ModelLatency", b.latency_ms * 1000.0, "Microseconds"),
            ]
            self.cw.put_metric_data(  # type: ignore[attr-defined]
                Namespace="AWS/SageMaker",
                MetricData=[
                    {"MetricName": m, "Dimensions": dims, "Timestamp": stamp, "Value": value, "Unit": unit}
                    for m, value, unit in data
                ],
            )


@dataclass
class World:
    sm: object
    cw: object
    target: SageMakerEndpoints
    clock: FakeClock
    traffic: Traffic
    behaviour: EndpointBehaviour
    aliases: list[int] = field(default_factory=list)

    def deploy(
        self,
        version: int,
        owner: str = "run-1",
        policy: RolloutPolicy = STEPS,
        settings: Settings | None = None,
        capture: CaptureReader | None = None,
        challengers: tuple[int, ...] = (),
    ) -> RolloutReport:
        controller = Controller(
            self.target,
            policy,
            clock=self.clock,
            settings=settings or Settings(),
            alias_setter=self.aliases.append,
            capture=capture,
        )
        return controller.run(churn_desired(ENDPOINT, spec, version, owner, challengers))

    def live(self) -> dict[str, float]:
        """Variant -> CurrentWeight, read from moto's state (no API call, so no side effects)."""
        endpoint = sagemaker_backends[ACCOUNT][REGION].endpoints[ENDPOINT]
        return {v["VariantName"]: float(v.get("CurrentWeight", 0.0)) for v in endpoint.production_variants}

    def status(self) -> str:
        return str(sagemaker_backends[ACCOUNT][REGION].endpoints[ENDPOINT].endpoint_status)

    def tags(self) -> dict[str, str]:
        endpoint = sagemaker_backends[ACCOUNT][REGION].endpoints[ENDPOINT]
        return {t["Key"]: t["Value"] for t in endpoint.tags}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[EndpointBehaviour]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws() as mock:
        behaviour = install(monkeypatch)
        behaviour.mock = mock  # type: ignore[attr-defined]
        yield behaviour


def make_world(behaviour: EndpointBehaviour) -> World:
    """A fresh world inside the active moto mock (clients, clock, traffic)."""
    target = SageMakerEndpoints.create(REGION, ROLE, session=boto3.session.Session())
    cw = boto3.client("cloudwatch", region_name=REGION)
    clock = FakeClock()
    traffic = Traffic(cw)
    clock.listeners.append(traffic)
    return World(target.sm, cw, target, clock, traffic, behaviour)


@pytest.fixture
def world(aws: EndpointBehaviour) -> World:
    return make_world(aws)


@pytest.fixture
def live_v1(world: World) -> World:
    """An endpoint serving v1 alone, deployed by modelcd (first deploy)."""
    report = world.deploy(1)
    assert report.outcome == "succeeded", report.to_markdown()
    world.aliases.clear()
    return world


# ------------------------------------------------------------------------------ fault injection

MUTATING_OPS = frozenset(
    {
        "CreateModel",
        "CreateEndpointConfig",
        "CreateEndpoint",
        "UpdateEndpoint",
        "UpdateEndpointWeightsAndCapacities",
        "AddTags",
        "DeleteEndpointConfig",
        "DeleteModel",
    }
)


class Killed(BaseException):
    """The process dies here (BaseException: nothing in modelcd may catch it)."""


def error_response(code: str, message: str, status: int = 400) -> tuple[object, dict[str, object]]:
    from botocore.awsrequest import AWSResponse

    return (
        AWSResponse("https://aws.invalid/", status, {}, None),
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
    )


@dataclass
class Faults:
    """Faults on the adapter's real boto3 clients through botocore's event hooks.

    `before`: op -> list of error codes/messages answered instead of the next calls (the request never
    reaches AWS); `timeout_after`: ops whose next call is accepted by AWS and then times out reading the
    answer; `kill_after`: die right after the k-th accepted mutating call.
    """

    clock: FakeClock
    before: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    timeout_after: dict[str, int] = field(default_factory=dict)
    kill_after: int | None = None
    kill_on: str | None = None  # die right after the first accepted call of this operation
    calls: list[tuple[str, float]] = field(default_factory=list)  # (op, time) of every attempted call
    accepted: list[tuple[str, dict[str, Any]]] = field(
        default_factory=list
    )  # mutating calls that reached AWS
    watchers: list[Callable[[str], None]] = field(default_factory=list)

    def attach(self, *clients: object) -> None:
        for client in clients:
            client.meta.events.register("before-call", self._before)  # type: ignore[attr-defined]
            client.meta.events.register("after-call", self._after)  # type: ignore[attr-defined]

    def _before(self, model: object, params: dict[str, object], **_: object) -> object:
        op = model.name  # type: ignore[attr-defined]
        self.calls.append((op, self.clock.now()))
        queued = self.before.get(op)
        if queued:
            code, message = queued.pop(0)
            return error_response(code, message)
        body = params.get("body") or b"{}"
        self._body = json.loads(body) if isinstance(body, bytes | str) else dict(body)  # type: ignore[call-overload]
        return None

    def _after(self, model: object, http_response: object, **_: object) -> None:
        from botocore.exceptions import ReadTimeoutError

        op = model.name  # type: ignore[attr-defined]
        if getattr(http_response, "status_code", 500) >= 300 or op not in MUTATING_OPS:
            return
        self.accepted.append((op, self._body))
        for watch in self.watchers:
            watch(op)
        if self.kill_after is not None and len(self.accepted) == self.kill_after:
            raise Killed(f"killed after accepted call #{self.kill_after} ({op})")
        if self.kill_on == op:
            self.kill_on = None
            raise Killed(f"killed after accepted {op}")
        if self.timeout_after.get(op, 0) > 0:
            self.timeout_after[op] -= 1
            raise ReadTimeoutError(endpoint_url=f"https://api.sagemaker.{REGION}.amazonaws.com/")

    def count(self, op: str) -> int:
        return sum(1 for o, _ in self.calls if o == op)

    def weight_requests(self) -> list[dict[str, float]]:
        out = []
        for op, body in self.accepted:
            if op == "UpdateEndpointWeightsAndCapacities":
                out.append(
                    {w["VariantName"]: w["DesiredWeight"] for w in body["DesiredWeightsAndCapacities"]}
                )
        return out


@pytest.fixture
def faults(world: World) -> Faults:
    f = Faults(world.clock)
    f.attach(world.target.sm, world.target.cw)
    return f

"""The serving-target interface of the rollout controller, and the values it observes.

The controller (`cd.rollout.controller`) never talks to SageMaker or to local processes directly: it
talks to a `Target`. Two adapters implement it:

- `cd.rollout.sagemaker.SageMakerEndpoints` (boto3): one SageMaker endpoint per (environment, model); each
  model version is a production variant; the rollout record lives in the endpoint's tags.
- `cd.rollout.local` (issue 7): Bento processes behind a weighted router on loopback; the rollout
  record lives in the router's state file.

The controller behaves identically on both because the contract below is exact. Read it before
implementing a target.

Contract
--------
*Asynchronous changes.* `apply_variants` and `set_weights` may return before the change is live (as
SageMaker does: the endpoint goes `Updating`). The controller never trusts a change until `observe`
shows it: `status == "InService"`, `config_name` equal to the name `apply_variants` returned, and each
variant's `current_weight` equal to what was asked. A target whose changes are synchronous (local)
simply reports `InService` immediately. A target must report a change it rolled back itself (SageMaker
ends such an update `InService` on the *previous* config) by showing the previous config name and
variants; the controller detects the mismatch.

*Idempotency.* `apply_variants` with the same variant set and weights must return the same config name
(derive it from the content) and must be safe to call again after a crash or timeout. `write_record`
overwrites the keys given and leaves other keys alone. `cleanup` never touches what is live.

*Weights* are non-negative numbers; the controller always passes percentages that sum to 100, with the
candidate possibly at 0 (a variant at weight 0 is deployed but receives no traffic).

*Errors.* Raise `TargetBusyError` when the endpoint is mid-update and cannot accept a change (the
controller waits and observes again; it never retries in a tight loop), `TargetCapacityError` for
capacity/quota refusals (the controller abandons the rollout with zero traffic shifted),
`TargetTransientError` for throttling or unavailability left after the adapter's own bounded retries,
and `TargetOutcomeUnknownError` when a change request may or may not have been accepted (e.g. a read
timeout): the controller reconciles by observing. Any other `TargetError` stops the run.

*Record.* `ObservedEndpoint.record` holds the rollout record written by `write_record` (see
`cd.rollout.record`): short string keys and values within SageMaker's tag limits (key <= 128 chars,
value <= 256 chars, characters `[A-Za-z0-9 _.:/=+\\-@]`). Every write of a rollout state is a
compare-and-set on its `modelcd:revision`: an abort written between a run's observe and its next write
makes that write fail (`RecordConflictError`), so the run observes again and rolls back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from cd.config.model import NativeTraffic
from cd.errors import TargetError

EndpointStatus = Literal[
    "Creating",
    "Updating",
    "SystemUpdating",
    "RollingBack",
    "InService",
    "OutOfService",
    "Deleting",
    "Failed",
    "UpdateRollbackFailed",
]

# Statuses in which the endpoint is changing and an observation is not final.
TRANSITIONAL_STATUSES: frozenset[str] = frozenset(
    {"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"}
)
# Statuses in which the controller must freeze: no traffic step, clear error, exit 1.
BROKEN_STATUSES: frozenset[str] = frozenset({"Failed", "UpdateRollbackFailed", "OutOfService"})

LatencyStatistic = Literal["Average", "p50", "p90", "p99"]


def variant_name(version: int) -> str:
    """The production-variant name of a model version: `v7`. Both targets use it."""
    return f"v{version}"


def version_of_variant(name: str) -> int | None:
    """Inverse of `variant_name`; None for a variant modelcd did not name."""
    if name.startswith("v") and name[1:].isdigit():
        return int(name[1:])
    return None


@dataclass(frozen=True)
class VariantSpec:
    """One model version to serve, as the controller asks for it.

    `image` is what the target runs: an image URI pinned by digest (`repo@sha256:...`) for SageMaker,
    a Bento tag or path for the local target.
    """

    model_version: int
    image: str
    instance_type: str = "ml.m5.large"
    instance_count: int = 1

    @property
    def name(self) -> str:
        return variant_name(self.model_version)


@dataclass(frozen=True)
class ObservedVariant:
    """A production variant as the target reports it now.

    `desired_weight` is what was last requested; `current_weight` is what the target says it routes
    by. The controller only trusts `current_weight`.
    """

    name: str
    model_version: int | None  # None: a variant modelcd did not create
    image: str
    desired_weight: float
    current_weight: float
    instance_type: str
    instance_count: int


@dataclass(frozen=True)
class ObservedEndpoint:
    name: str
    status: EndpointStatus
    config_name: str  # the endpoint config (SageMaker) / variant-set id (local) now in effect
    variants: tuple[ObservedVariant, ...]
    record: Mapping[str, str] = field(default_factory=dict)  # rollout record (tags / state file)
    failure_reason: str = ""
    shadow: ObservedVariant | None = None  # gets a copy of the traffic; never answers a client

    def variant(self, name: str) -> ObservedVariant | None:
        return next((v for v in self.variants if v.name == name), None)

    @property
    def weights(self) -> dict[str, float]:
        """Current weights as percentages of the total (empty if the total is 0)."""
        total = sum(v.current_weight for v in self.variants)
        if total <= 0:
            return {}
        return {v.name: 100.0 * v.current_weight / total for v in self.variants}

    @property
    def transitional(self) -> bool:
        return self.status in TRANSITIONAL_STATUSES

    @property
    def broken(self) -> bool:
        return self.status in BROKEN_STATUSES


@dataclass(frozen=True)
class VariantMetrics:
    """What one variant served over a window: sums of requests and errors, and latency.

    `latency_ms` is ModelLatency at `statistic` over the window, in milliseconds; None when the
    variant served nothing (no datapoints). The sequential latency test reads one of two finer
    sources, whichever the target has:

    - `latencies_ms`: every request's latency, ascending (the local router);
    - `latency_minutes`: `(minute start, ModelLatency at statistic)` per CloudWatch minute (SageMaker).
    """

    invocations: float
    errors_4xx: float
    errors_5xx: float
    latency_ms: float | None
    statistic: LatencyStatistic = "p99"
    latencies_ms: Sequence[float] | None = None
    latency_minutes: tuple[tuple[float, float], ...] | None = None
    # shadow traffic (local router): per compared request, whether the labels differ from stable's
    # and the largest score difference; and the first row's (candidate, stable) scores
    comparisons: tuple[tuple[bool, float], ...] | None = None
    shadow_scores: tuple[tuple[float, float], ...] | None = None

    def summary(self) -> dict[str, object]:
        """The numbers for a record or report, without the per-request samples."""
        return {
            "invocations": self.invocations,
            "errors_4xx": self.errors_4xx,
            "errors_5xx": self.errors_5xx,
            "latency_ms": self.latency_ms,
            "statistic": self.statistic,
            "latency_samples": len(self.latencies_ms) if self.latencies_ms is not None else None,
            "latency_minutes": len(self.latency_minutes) if self.latency_minutes is not None else None,
            "compared": len(self.comparisons) if self.comparisons is not None else None,
        }

    @property
    def errors(self) -> float:
        return self.errors_4xx + self.errors_5xx

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.invocations if self.invocations > 0 else None


class TargetBusyError(TargetError):
    """The endpoint is mid-update and refused a change; observe again later."""


class TargetCapacityError(TargetError):
    """Capacity or quota refused (e.g. ResourceLimitExceeded, InsufficientCapacity)."""


class TargetTransientError(TargetError):
    """Throttled or unavailable after the adapter's own bounded retries; safe to observe and retry."""


class TargetOutcomeUnknownError(TargetError):
    """A change request may or may not have been accepted (read timeout): observe to find out."""


class RecordConflictError(TargetError):
    """The rollout record changed since it was read (another writer: an abort, another run); nothing
    was written. Observe again and decide from what is there now."""


@runtime_checkable
class Target(Protocol):
    """A serving target the rollout controller can drive. See the module docstring for the contract."""

    # How often new metrics arrive, so how often the analysis looks (seconds): a CloudWatch minute on
    # SageMaker, a second on the local router.
    look_seconds: float

    def observe(self, endpoint: str) -> ObservedEndpoint | None:
        """The endpoint as it is now, with its rollout record; None if it does not exist."""
        ...

    def apply_variants(
        self,
        endpoint: str,
        variants: Sequence[VariantSpec],
        weights: Mapping[str, float],
        shadow: VariantSpec | None = None,
        traffic: NativeTraffic | None = None,
    ) -> str:
        """Make the endpoint serve exactly `variants` with `weights` (by variant name), and `shadow`
        (or none) in shadow mode: a copy of every request, its answer never returned to the client
        and its failures never affecting a response.

        Creates the endpoint if it does not exist (first deploy), otherwise replaces its variant set.
        With `traffic`, the target shifts to the new variant set by itself (SageMaker's blue/green canary
        or linear routing, rolled back by alarms); a target that cannot raises TargetError.
        Returns the config name that `observe` will report once the change is live.
        """
        ...

    def set_weights(self, endpoint: str, weights: Mapping[str, float]) -> None:
        """Change traffic weights of existing variants without replacing them."""
        ...

    def write_record(
        self, endpoint: str, record: Mapping[str, str], *, expect_revision: str | None = None
    ) -> None:
        """Persist the rollout record on the target (overwriting these keys).

        Compare-and-set: with `expect_revision`, write only if the record's `modelcd:revision` (a
        missing one reads "0") still equals it, else raise `RecordConflictError` and write nothing.
        """
        ...

    def read_metrics(
        self,
        endpoint: str,
        variant: str,
        start: datetime,
        end: datetime,
        statistic: LatencyStatistic,
    ) -> VariantMetrics:
        """What `variant` served between `start` and `end` (timezone-aware UTC)."""
        ...

    def alarms_in_alarm(self, names: Sequence[str]) -> tuple[str, ...]:
        """Which of the named alarms are in ALARM state now (unknown names: error)."""
        ...

    def cleanup(self, endpoint: str, keep: Sequence[VariantSpec]) -> tuple[str, ...]:
        """Delete what modelcd created for `endpoint` that is no longer live and not in `keep`.

        Returns what was deleted (names), for the record. Never deletes anything the endpoint serves.
        """
        ...

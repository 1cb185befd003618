"""Canary analysis: candidate compared with stable over the same window. Pure.

Phases follow Argo Rollouts' AnalysisRun:

- `Failed`: an alarm named in the policy is in ALARM, or a threshold is breached *with confidence*:
  the candidate's error rate, or its increase over stable, exceeds the limit even at the 99 % lower
  confidence bound (Wilson score interval; Newcombe's interval for the difference); or, with at least
  `min_requests` requests, the latency ratio exceeds its limit. A failure can be certain before
  `min_requests` are in: 5 errors in 40 requests is already far above a 1 % limit.
- `Inconclusive`: fewer than `min_requests` candidate requests ("not enough data" is never a pass), or a
  point estimate beyond a limit that is not yet confident (noise on a few hundred requests): the step
  is held so more data arrives.
- `Successful`: enough requests and every point estimate within its limit.
- `Error`: the measurement itself failed (metrics unreadable); built by `measurement_error`.

Every check carries its numbers so the rollout record can say why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from cd.config.model import AnalysisPolicy
from cd.rollout.target import VariantMetrics

AnalysisPhase = Literal["Successful", "Failed", "Error", "Inconclusive"]
CheckOutcome = Literal["pass", "fail", "uncertain", "skipped"]

CONFIDENCE = 0.99
_Z = 2.3263478740408408  # one-sided 99 % normal quantile: repeated looks during a bake stay rare false alarms


@dataclass(frozen=True)
class Check:
    name: str  # "requests", "error_rate", "error_rate_increase", "latency_ratio", "alarms"
    outcome: CheckOutcome
    value: float | None
    limit: float | None
    detail: str


@dataclass(frozen=True)
class AnalysisResult:
    phase: AnalysisPhase
    step_index: int
    window_start: float
    window_end: float
    candidate: VariantMetrics | None
    stable: VariantMetrics | None
    checks: tuple[Check, ...]
    message: str

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)


def wilson_interval(errors: float, n: float, z: float = _Z) -> tuple[float, float]:
    """Wilson score interval for a proportion; (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    p = errors / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def difference_lower_bound(e1: float, n1: float, e2: float, n2: float) -> float:
    """Newcombe's lower confidence bound for p1 - p2 (candidate minus stable)."""
    p1, p2 = e1 / n1, e2 / n2
    l1, _ = wilson_interval(e1, n1)
    _, u2 = wilson_interval(e2, n2)
    return p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _error_rate_check(c: VariantMetrics, policy: AnalysisPolicy) -> Check:
    limit = policy.max_error_rate
    n = c.invocations
    if n <= 0:
        return Check("error_rate", "uncertain", None, limit, "candidate served no requests")
    rate = c.errors / n
    lower, _ = wilson_interval(c.errors, n)
    detail = f"{c.errors:g}/{n:g} = {_pct(rate)} (99% lower bound {_pct(lower)}), limit {_pct(limit)}"
    if lower > limit:
        return Check("error_rate", "fail", rate, limit, detail)
    if rate > limit:
        return Check("error_rate", "uncertain", rate, limit, detail)
    return Check("error_rate", "pass", rate, limit, detail)


def _increase_check(c: VariantMetrics, s: VariantMetrics, policy: AnalysisPolicy) -> Check:
    limit = policy.max_error_rate_increase
    if c.invocations <= 0:
        return Check("error_rate_increase", "uncertain", None, limit, "candidate served no requests")
    if s.invocations <= 0:
        return Check("error_rate_increase", "skipped", None, limit, "stable served no requests in the window")
    increase = c.errors / c.invocations - s.errors / s.invocations
    lower = difference_lower_bound(c.errors, c.invocations, s.errors, s.invocations)
    detail = (
        f"candidate {_pct(c.errors / c.invocations)} - stable {_pct(s.errors / s.invocations)} = "
        f"{_pct(increase)} (99% lower bound {_pct(lower)}), limit {_pct(limit)}"
    )
    if lower > limit:
        return Check("error_rate_increase", "fail", increase, limit, detail)
    if increase > limit:
        return Check("error_rate_increase", "uncertain", increase, limit, detail)
    return Check("error_rate_increase", "pass", increase, limit, detail)


def _latency_check(c: VariantMetrics, s: VariantMetrics, policy: AnalysisPolicy, enough: bool) -> Check:
    limit = policy.max_latency_ratio
    stat = policy.latency_statistic
    if c.latency_ms is None:
        return Check("latency_ratio", "uncertain", None, limit, f"no candidate ModelLatency {stat}")
    if s.latency_ms is None or s.latency_ms <= 0:
        return Check("latency_ratio", "skipped", None, limit, f"no stable ModelLatency {stat} in the window")
    ratio = c.latency_ms / s.latency_ms
    detail = f"{stat} {c.latency_ms:.1f} ms / {s.latency_ms:.1f} ms = {ratio:.2f}x, limit {limit:.2f}x"
    if ratio > limit:
        return Check("latency_ratio", "fail" if enough else "uncertain", ratio, limit, detail)
    return Check("latency_ratio", "pass", ratio, limit, detail)


def analyse(
    candidate: VariantMetrics,
    stable: VariantMetrics | None,
    alarms_in_alarm: tuple[str, ...],
    policy: AnalysisPolicy,
    *,
    step_index: int,
    window_start: float,
    window_end: float,
) -> AnalysisResult:
    """The phase of one analysis, with every check's numbers. `stable` None: no stable variant."""
    enough = candidate.invocations >= policy.min_requests
    checks: list[Check] = [
        Check(
            "requests",
            "pass" if enough else "uncertain",
            candidate.invocations,
            float(policy.min_requests),
            f"{candidate.invocations:g} candidate requests, {policy.min_requests} needed",
        ),
        _error_rate_check(candidate, policy),
    ]
    if stable is not None:
        checks.append(_increase_check(candidate, stable, policy))
        checks.append(_latency_check(candidate, stable, policy, enough))
    if policy.alarms:
        firing = tuple(a for a in policy.alarms if a in alarms_in_alarm)
        checks.append(
            Check(
                "alarms",
                "fail" if firing else "pass",
                float(len(firing)),
                0.0,
                f"in ALARM: {', '.join(firing)}" if firing else f"none of {len(policy.alarms)} in ALARM",
            )
        )
    failed = [c for c in checks if c.outcome == "fail"]
    uncertain = [c for c in checks if c.outcome == "uncertain"]
    if failed:
        phase: AnalysisPhase = "Failed"
        message = "; ".join(f"{c.name}: {c.detail}" for c in failed)
    elif uncertain:
        phase = "Inconclusive"
        message = "; ".join(f"{c.name}: {c.detail}" for c in uncertain)
    else:
        phase = "Successful"
        message = "; ".join(f"{c.name}: {c.detail}" for c in checks)
    return AnalysisResult(
        phase, step_index, window_start, window_end, candidate, stable, tuple(checks), message
    )


def measurement_error(
    message: str, *, step_index: int, window_start: float, window_end: float
) -> AnalysisResult:
    """An analysis whose metrics could not be read (phase Error)."""
    return AnalysisResult("Error", step_index, window_start, window_end, None, None, (), message)

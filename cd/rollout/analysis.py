"""Canary analysis: candidate compared with stable, sequentially, over the rollout so far. Pure.

Every look reads the rollout's whole window (from its start to now) and asks, per check, two
anytime-valid questions (cd.rollout.sequential):

- *harm*: is the candidate beyond the limit? A check fails when its e-process crosses 1/alpha.
  Under a candidate within every limit, the probability that any check ever fails, at any look, is at
  most the policy's `alpha` (the checks share it: see `HARM_SHARES`).
- *within*: is the candidate inside the limit (non-inferiority)? A check passes when that is shown at
  level `advance_alpha`; a step advances only when every check passes.

Neither shown: the check is `uncertain` and the analysis Inconclusive; the step waits for more data
(decide extends it up to `max_extension`, then pauses). Too little data never fails a candidate.

The checks:
- `error_rate`: the candidate's 5xx rate against `max_error_rate`;
- `error_rate_increase`: candidate 5xx rate minus stable's against `max_error_rate_increase`; the
  stable rate enters through its confidence sequence (a union of two valid events stays valid);
- `client_error_rate_increase`: 4xx are the client's, not the candidate's: they fail the candidate
  only when its 4xx rate exceeds stable's by more than `max_client_error_rate_increase`, shown the same
  way; otherwise they pass (they never hold a step);
- `latency_ratio`: with per-request latencies, the candidate's quantile (p50/p90/p99) against
  `max_latency_ratio` times stable's, from quantile confidence sequences; with CloudWatch minutes only,
  a sign test over paired minutes: H0 "in at most half of the minutes the candidate's statistic exceeds
  the limit times stable's". `Average` has no distribution-free sequential bound: with CloudWatch
  minutes it gets the sign test, with per-request samples it is tested at the median;
- `prediction_disagreement` (shadow traffic on the local router): the share of copied requests whose
  prediction differs from stable's, against `max_disagreement` (None: reported, not judged), with the
  Kolmogorov-Smirnov distance between the two variants' scores beside it; it fails when shown above
  the limit and never holds a step. SageMaker keeps shadow answers only in data capture, so there
  this check is absent;
- `prediction_drift` and `input_drift` (data capture): the Kolmogorov-Smirnov distance between the
  candidate's and stable's score distributions (inputs: per feature, categories as ordered codes) on
  the same window, against `max_prediction_ks` / `max_input_ks`. Each empirical CDF has a band that
  holds at every sample size at once (DKW with a union bound over sample sizes), so the distance's lower
  bound may be looked at as often as data arrives; the check fails when that bound is above the limit
  and never holds a step;
- `live_quality` (data capture joined with ground truth, binary classifiers): the candidate's share of
  labelled rows on the wrong side of 0.5 minus stable's, against `max_misclassification_increase`, by
  the same construction as `error_rate_increase`; labels arrive late, so it fails when shown above the
  limit and never holds a step (skipped until both variants have labelled rows);
- `requests`: at least `min_requests` candidate requests before a step may pass;
- `alarms`: any named CloudWatch alarm in ALARM fails.

Phases follow Argo Rollouts' AnalysisRun: Failed (a check failed), Successful (every check passed),
Inconclusive, Error (metrics unreadable; built by `measurement_error`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypedDict

from scipy.stats import ks_2samp

from cd.config.model import AnalysisPolicy
from cd.rollout.sequential import (
    UNIFORM,
    BetaPrior,
    e_above,
    e_below,
    lower_bound,
    needed_trials,
    quantile_bounds,
    upper_bound,
)
from cd.rollout.shadow import disagreements
from cd.rollout.target import VariantMetrics

AnalysisPhase = Literal["Successful", "Failed", "Error", "Inconclusive"]
CheckOutcome = Literal["pass", "fail", "uncertain", "skipped"]

# How alpha (harm) is shared among the confidence sequences behind the checks. The shares sum to 1,
# so the whole rollout's false-rollback probability is at most alpha. The shadow, drift and live-quality
# checks that run share "disagreement" equally.
HARM_SHARES = {
    "candidate_5xx": 1 / 4,
    "disagreement": 1 / 12,
    "stable_5xx": 1 / 6,
    "candidate_4xx": 1 / 12,
    "stable_4xx": 1 / 12,
    "candidate_latency": 1 / 6,
    "stable_latency": 1 / 6,
}
QUANTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}


@dataclass(frozen=True)
class CapturedSample:
    """One variant's captured traffic over the analysis window: its scores and its inputs (numeric;
    categories as codes in one order shared by both variants)."""

    scores: tuple[float, ...]
    inputs: Mapping[str, tuple[float, ...]]
    labelled: int = 0  # rows whose true label has arrived (monitoring.ground_truth)
    misclassified: int = 0  # of those, rows on the wrong side of 0.5


@dataclass(frozen=True)
class Check:
    name: str  # "requests", "error_rate", "error_rate_increase", "client_error_rate_increase", ...
    outcome: CheckOutcome
    value: float | None  # the point estimate
    limit: float | None
    detail: str
    lower: float | None = None  # confidence-sequence bounds of the value, where there are any
    upper: float | None = None
    e_harm: float | None = None  # evidence that the limit is exceeded (fails at 1/alpha share)
    e_within: float | None = None  # evidence that the candidate is within it (passes at 1/advance share)
    needed: int | None = None  # candidate requests the test would need at the observed rate


class _Numbers(TypedDict, total=False):
    lower: float | None
    upper: float | None
    e_harm: float | None
    e_within: float | None


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


# Only the checks that can hold a step spend advance_alpha: 4xx and disagreement never do.
WITHIN_SHARES = {
    "candidate_5xx": 1 / 3,
    "stable_5xx": 1 / 3,
    "candidate_4xx": 0.0,
    "stable_4xx": 0.0,
    "disagreement": 0.0,
    "candidate_latency": 1 / 6,
    "stable_latency": 1 / 6,
}


@dataclass(frozen=True)
class Levels:
    """Per confidence sequence: the level for harm (from alpha) and for within (advance_alpha)."""

    harm: float
    within: float


def levels(policy: AnalysisPolicy, share: str) -> Levels:
    within = policy.advance_alpha * WITHIN_SHARES[share]  # 0: the check never holds a step; its
    return Levels(policy.alpha * HARM_SHARES[share], within or policy.advance_alpha)  # bound is only shown


def _pct(x: float | None) -> str:
    return "?" if x is None else f"{100 * x:.2f}%"


def _ms(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f}"


def _evidence(e: float) -> str:
    return f"{e:.3g}"


def _error_rate_check(c: VariantMetrics, policy: AnalysisPolicy) -> Check:
    limit = policy.max_error_rate
    n, x = c.invocations, c.errors_5xx
    if n <= 0:
        return Check("error_rate", "uncertain", None, limit, "candidate served no requests")
    lv = levels(policy, "candidate_5xx")
    prior = BetaPrior.around(limit)
    rate = x / n
    harm, within = e_above(x, n, limit, prior), e_below(x, n, limit, prior)
    lower, upper = lower_bound(x, n, lv.harm, prior), upper_bound(x, n, lv.within, prior)
    detail = (
        f"5xx {x:g}/{n:g} = {_pct(rate)}, bounds [{_pct(lower)}, {_pct(upper)}], limit {_pct(limit)}; "
        f"e {_evidence(harm)} of {_evidence(1 / lv.harm)} to fail, {_evidence(within)} of "
        f"{_evidence(1 / lv.within)} to pass"
    )
    numbers = _Numbers(lower=lower, upper=upper, e_harm=harm, e_within=within)
    if harm >= 1 / lv.harm:
        return Check("error_rate", "fail", rate, limit, detail, **numbers)
    if within >= 1 / lv.within:
        return Check("error_rate", "pass", rate, limit, detail, **numbers)
    needed = needed_trials(rate, limit, lv.within, prior, above=False) or needed_trials(
        rate, limit, lv.harm, prior, above=True
    )
    return Check(
        "error_rate",
        "uncertain",
        rate,
        limit,
        detail + (f"; ~{needed} requests needed at this rate" if needed else ""),
        needed=needed,
        **numbers,
    )


def _increase_check(
    name: str,
    c_errors: float,
    s_errors: float,
    c: VariantMetrics,
    s: VariantMetrics,
    limit: float,
    policy: AnalysisPolicy,
    *,
    prior: BetaPrior,
    holds_step: bool,
) -> Check:
    kind = "5xx" if name == "error_rate_increase" else "4xx"
    if c.invocations <= 0:
        outcome: CheckOutcome = "uncertain" if holds_step else "pass"
        return Check(name, outcome, None, limit, "candidate served no requests")
    if s.invocations <= 0:
        return Check(name, "skipped", None, limit, "stable served no requests in the window")
    cl, sl = levels(policy, f"candidate_{kind}"), levels(policy, f"stable_{kind}")
    nc, ns = c.invocations, s.invocations
    pc, ps = c_errors / nc, s_errors / ns
    prior_c = prior_s = prior  # fixed before any data: a prior chosen from the data would void the test
    stable_upper = upper_bound(s_errors, ns, sl.harm, prior_s)
    stable_lower = lower_bound(s_errors, ns, sl.within, prior_s)
    harm = e_above(c_errors, nc, min(stable_upper + limit, 1.0), prior_c)
    within = e_below(c_errors, nc, min(stable_lower + limit, 1.0), prior_c) if holds_step else 0.0
    lower = lower_bound(c_errors, nc, cl.harm, prior_c) - stable_upper
    upper = upper_bound(c_errors, nc, cl.within, prior_c) - stable_lower
    detail = (
        f"{kind} candidate {_pct(pc)} - stable {_pct(ps)} = {_pct(pc - ps)}, bounds "
        f"[{_pct(lower)}, {_pct(upper)}], limit {_pct(limit)}; e {_evidence(harm)} of "
        f"{_evidence(1 / cl.harm)} to fail"
    )
    numbers = _Numbers(lower=lower, upper=upper, e_harm=harm, e_within=within if holds_step else None)
    if harm >= 1 / cl.harm:
        return Check(name, "fail", pc - ps, limit, detail, **numbers)
    if not holds_step:
        return Check(
            name, "pass", pc - ps, limit, detail + " (4xx are the client's unless shown above)", **numbers
        )
    detail += f", {_evidence(within)} of {_evidence(1 / cl.within)} to pass"
    if within >= 1 / cl.within:
        return Check(name, "pass", pc - ps, limit, detail, **numbers)
    return Check(name, "uncertain", pc - ps, limit, detail, **numbers)


def _latency_check(c: VariantMetrics, s: VariantMetrics, policy: AnalysisPolicy) -> Check:
    stat = policy.latency_statistic
    limit = policy.max_latency_ratio
    point = (
        c.latency_ms / s.latency_ms
        if c.latency_ms is not None and s.latency_ms is not None and s.latency_ms > 0
        else None
    )
    q = QUANTILES.get(stat)
    if c.latency_minutes is None and stat == "Average":
        q = 0.5  # per-request samples only: the mean has no distribution-free bound; the median does
    if q is not None and c.latencies_ms is not None and s.latencies_ms is not None:
        return _quantile_check(c.latencies_ms, s.latencies_ms, q, point, policy)
    if c.latency_minutes is not None and s.latency_minutes is not None:
        return _minute_sign_check(c.latency_minutes, s.latency_minutes, point, policy)
    have = "no candidate latency" if c.latency_ms is None else "no per-request or per-minute latencies"
    return Check(
        "latency_ratio", "uncertain", point, limit, f"{have} for ModelLatency {stat}: nothing to test"
    )


def _quantile_check(
    cand: Sequence[float], stab: Sequence[float], q: float, point: float | None, policy: AnalysisPolicy
) -> Check:
    limit = policy.max_latency_ratio
    cl, sl = levels(policy, "candidate_latency"), levels(policy, "stable_latency")
    cb = quantile_bounds(cand, q, cl.harm, cl.within)
    sb = quantile_bounds(stab, q, sl.within, sl.harm)
    label = f"p{round(q * 100)}"
    detail = (
        f"{label} candidate [{_ms(cb.lower)}, {_ms(cb.upper)}] ms over {len(cand)} requests, stable "
        f"[{_ms(sb.lower)}, {_ms(sb.upper)}] ms over {len(stab)}; limit {limit:.2f}x stable"
    )
    lower = cb.lower / sb.upper if cb.lower is not None and sb.upper else None
    upper = cb.upper / sb.lower if cb.upper is not None and sb.lower else None
    numbers = _Numbers(lower=lower, upper=upper)
    if lower is not None and lower > limit:
        return Check("latency_ratio", "fail", point, limit, detail, **numbers)
    if upper is not None and upper <= limit:
        return Check("latency_ratio", "pass", point, limit, detail, **numbers)
    return Check("latency_ratio", "uncertain", point, limit, detail, **numbers)


def _minute_sign_check(
    cand: tuple[tuple[float, float], ...],
    stab: tuple[tuple[float, float], ...],
    point: float | None,
    policy: AnalysisPolicy,
) -> Check:
    limit = policy.max_latency_ratio
    stable_by_minute = dict(stab)
    pairs = [(v, stable_by_minute[t]) for t, v in cand if t in stable_by_minute and stable_by_minute[t] > 0]
    m = len(pairs)
    over = sum(1 for cv, sv in pairs if cv > limit * sv)
    harm_level = policy.alpha * (HARM_SHARES["candidate_latency"] + HARM_SHARES["stable_latency"])
    within_level = policy.advance_alpha * (
        WITHIN_SHARES["candidate_latency"] + WITHIN_SHARES["stable_latency"]
    )
    harm = e_above(over, m, 0.5, UNIFORM) if m else 1.0
    within = e_below(over, m, 0.5, UNIFORM) if m else 1.0
    detail = (
        f"{policy.latency_statistic}: candidate above {limit:.2f}x stable in {over} of {m} paired minutes; "
        f"e {_evidence(harm)} of {_evidence(1 / harm_level)} to fail, {_evidence(within)} of "
        f"{_evidence(1 / within_level)} to pass"
    )
    share = over / m if m else None
    numbers = _Numbers(e_harm=harm, e_within=within)
    if harm >= 1 / harm_level:
        return Check("latency_ratio", "fail", point, limit, detail, **numbers)
    if within >= 1 / within_level:
        return Check("latency_ratio", "pass", point, limit, detail, **numbers)
    return Check("latency_ratio", "uncertain", share, limit, detail, **numbers)


def _disagreement_check(c: VariantMetrics, policy: AnalysisPolicy, sharing: int = 1) -> Check:
    """Shadow requests whose prediction differs from stable's (labels, or a score by more than
    `max_score_difference`); fails when shown above `max_disagreement`, never holds a step."""
    pairs = c.comparisons or ()
    n = len(pairs)
    k = disagreements(pairs, policy.max_score_difference)
    limit = policy.max_disagreement
    scores = c.shadow_scores or ()
    distance = (
        float(ks_2samp([a for a, _ in scores], [b for _, b in scores]).statistic)
        if len(scores) >= 2
        else None
    )
    shown = f", score KS distance {distance:.3f}" if distance is not None else ""
    rate = k / n if n else None
    detail = f"{k}/{n} shadow predictions differ from stable's ({_pct(rate)}){shown}"
    if limit is None:
        return Check("prediction_disagreement", "skipped", rate, None, detail + "; reported, not judged")
    shared = levels(policy, "disagreement")
    lv = Levels(shared.harm / max(1, sharing), shared.within)
    prior = BetaPrior.around(limit)
    harm = e_above(k, n, limit, prior) if n else 1.0
    detail += f", limit {_pct(limit)}; e {_evidence(harm)} of {_evidence(1 / lv.harm)} to fail"
    lower = lower_bound(k, n, lv.harm, prior)
    outcome: CheckOutcome = "fail" if harm >= 1 / lv.harm else "pass"
    return Check("prediction_disagreement", outcome, rate, limit, detail, lower=lower, e_harm=harm)


def ecdf_band(n: int, alpha: float) -> float:
    """A half-width that holds for the empirical CDF at every sample size at once with probability
    1 - alpha: DKW, P(sup|F_n - F| > e) <= 2 exp(-2 n e^2), at level alpha 6/(pi^2 n^2) for each n (the
    levels sum to alpha), so looking after every request is still valid."""
    if n <= 0:
        return 1.0
    level = alpha * 6.0 / (math.pi**2 * n * n)
    return min(1.0, math.sqrt(math.log(2.0 / level) / (2.0 * n)))


def _distance(a: Sequence[float], b: Sequence[float]) -> float:
    return float(ks_2samp(a, b).statistic) if len(a) and len(b) else 0.0


def _drift_check(
    name: str,
    pairs: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    limit: float,
    harm_level: float,
) -> Check:
    """Fails when, for some feature, the KS distance's anytime-valid lower bound exceeds `limit`."""
    level = harm_level / max(1, len(pairs)) / 2  # Bonferroni over features, and the two variants' bands
    rows = []
    for feature, (cand, stable) in pairs.items():
        d = _distance(cand, stable)
        rows.append((d - ecdf_band(len(cand), level) - ecdf_band(len(stable), level), d, feature))
    worst_lower, worst, worst_name = max(rows) if rows else (0.0, 0.0, "")
    sizes = next(iter(pairs.values())) if pairs else ((), ())
    detail = (
        f"largest KS distance {worst:.3f} ({worst_name}) between candidate and stable on {len(sizes[0])} and "
        f"{len(sizes[1])} captured rows; its lower bound {max(0.0, worst_lower):.3f}, limit {limit:g}"
    )
    outcome: CheckOutcome = "fail" if worst_lower > limit else "pass"
    return Check(name, outcome, worst, limit, detail, lower=max(0.0, worst_lower))


def _quality_check(cand: CapturedSample, stable: CapturedSample, limit: float, harm_level: float) -> Check:
    """The candidate's share of misclassified labelled rows minus stable's, against `limit`. Stable's rate
    enters through its upper confidence-sequence bound, the candidate's through an e-process against that
    bound plus the limit, each at half the level: valid at every look. Labels arrive late, so the check
    never holds a step; before both variants have a labelled row it is skipped."""
    name, nc, ns = "live_quality", cand.labelled, stable.labelled
    if nc == 0 or ns == 0:
        return Check(
            name, "skipped", None, limit, f"labelled rows: candidate {nc}, stable {ns} (waiting for labels)"
        )
    level = harm_level / 2
    stable_upper = upper_bound(stable.misclassified, ns, level, UNIFORM)
    harm = e_above(cand.misclassified, nc, min(stable_upper + limit, 1.0), UNIFORM)
    lower = lower_bound(cand.misclassified, nc, level, UNIFORM) - stable_upper
    rate_c, rate_s = cand.misclassified / nc, stable.misclassified / ns
    detail = (
        f"misclassified: candidate {cand.misclassified}/{nc} = {_pct(rate_c)} - stable "
        f"{stable.misclassified}/{ns} = {_pct(rate_s)} = {_pct(rate_c - rate_s)}, lower bound "
        f"{_pct(lower)}, limit {_pct(limit)}; e {_evidence(harm)} of {_evidence(1 / level)} to fail"
    )
    outcome: CheckOutcome = "fail" if harm >= 1 / level else "pass"
    return Check(name, outcome, rate_c - rate_s, limit, detail, lower=lower, e_harm=harm)


def _capture_checks(
    captured: tuple[CapturedSample, CapturedSample] | None, policy: AnalysisPolicy, level: float
) -> list[Check]:
    if captured is None:
        return []
    cand, stable = captured
    checks = []
    if policy.max_misclassification_increase is not None:
        checks.append(_quality_check(cand, stable, policy.max_misclassification_increase, level))
    if policy.max_prediction_ks is not None:
        pairs = {"prediction": (cand.scores, stable.scores)}
        checks.append(_drift_check("prediction_drift", pairs, policy.max_prediction_ks, level))
    if policy.max_input_ks is not None:
        pairs = {f: (cand.inputs[f], stable.inputs.get(f, ())) for f in sorted(cand.inputs)}
        checks.append(_drift_check("input_drift", pairs, policy.max_input_ks, level))
    return checks


def _requests_check(c: VariantMetrics, policy: AnalysisPolicy) -> Check:
    enough = c.invocations >= policy.min_requests
    return Check(
        "requests",
        "pass" if enough else "uncertain",
        c.invocations,
        float(policy.min_requests),
        f"{c.invocations:g} candidate requests, at least {policy.min_requests} before a step may pass",
        needed=None if enough else policy.min_requests,
    )


def _alarms_check(alarms_in_alarm: tuple[str, ...], policy: AnalysisPolicy) -> Check:
    firing = tuple(a for a in policy.alarms if a in alarms_in_alarm)
    return Check(
        "alarms",
        "fail" if firing else "pass",
        float(len(firing)),
        0.0,
        f"in ALARM: {', '.join(firing)}" if firing else f"none of {len(policy.alarms)} in ALARM",
    )


def analyse(
    candidate: VariantMetrics,
    stable: VariantMetrics | None,
    alarms_in_alarm: tuple[str, ...],
    policy: AnalysisPolicy,
    *,
    step_index: int,
    window_start: float,
    window_end: float,
    captured: tuple[CapturedSample, CapturedSample] | None = None,
) -> AnalysisResult:
    """The phase of one look, with every check's numbers. `stable` None: no stable variant.
    `captured`: the candidate's and stable's captured traffic, for the drift and live-quality checks."""
    checks = [_requests_check(candidate, policy), _error_rate_check(candidate, policy)]
    if stable is not None:
        checks += [
            _increase_check(
                "error_rate_increase",
                candidate.errors_5xx,
                stable.errors_5xx,
                candidate,
                stable,
                policy.max_error_rate_increase,
                policy,
                prior=BetaPrior.around(policy.max_error_rate),
                holds_step=True,
            ),
            _increase_check(
                "client_error_rate_increase",
                candidate.errors_4xx,
                stable.errors_4xx,
                candidate,
                stable,
                policy.max_client_error_rate_increase,
                policy,
                prior=BetaPrior.around(policy.max_client_error_rate_increase),
                holds_step=False,
            ),
            _latency_check(candidate, stable, policy),
        ]
    drifting = captured is not None and stable is not None
    wanted = (policy.max_prediction_ks, policy.max_input_ks, policy.max_misclassification_increase)
    sharing = drifting * sum(x is not None for x in wanted) + int(candidate.comparisons is not None)
    if candidate.comparisons is not None:
        checks.append(_disagreement_check(candidate, policy, sharing))
    pool = policy.alpha * HARM_SHARES["disagreement"] / max(1, sharing)
    checks += [] if stable is None else _capture_checks(captured, policy, pool)
    if policy.alarms:
        checks.append(_alarms_check(alarms_in_alarm, policy))
    failed = [c for c in checks if c.outcome == "fail"]
    uncertain = [c for c in checks if c.outcome == "uncertain"]
    if failed:
        phase: AnalysisPhase = "Failed"
        shown = failed
    elif uncertain:
        phase = "Inconclusive"
        shown = uncertain
    else:
        phase = "Successful"
        shown = checks
    message = "; ".join(f"{c.name}: {c.detail}" for c in shown)
    return AnalysisResult(
        phase, step_index, window_start, window_end, candidate, stable, tuple(checks), message
    )


def measurement_error(
    message: str, *, step_index: int, window_start: float, window_end: float
) -> AnalysisResult:
    """An analysis whose metrics could not be read (phase Error)."""
    return AnalysisResult("Error", step_index, window_start, window_end, None, None, (), message)


def evidence_line(result: AnalysisResult) -> str:
    """The numbers behind a look in one short line (for the rollout record and `status`)."""
    parts = [f"{result.phase}"]
    for c in result.checks:
        if c.outcome == "skipped":
            continue
        bits: list[str] = [c.outcome]
        if c.value is not None:
            bits.append(f"{c.value:.4g}")
        if c.e_harm is not None and not math.isnan(c.e_harm):
            bits.append(f"e={c.e_harm:.3g}")
        if c.lower is not None or c.upper is not None:
            lo = "?" if c.lower is None else f"{c.lower:.3g}"
            hi = "?" if c.upper is None else f"{c.upper:.3g}"
            bits.append(f"cs {lo}..{hi}")
        if c.needed:
            bits.append(f"need {c.needed}")
        parts.append(f"{c.name} " + " ".join(bits))
    return "; ".join(parts)

"""Pure decision logic: one metric on one slice group against the gate's thresholds.

TFMA semantics. A value threshold bounds the candidate's metric to [min, max]. A change threshold
bounds how much worse than the incumbent the candidate may be, in the metric's "worse" direction:
the allowed worsening is `absolute`, or `relative * |incumbent|`, or the larger of the two when both
are given ("within either").

Modes:
- `point`: compare point estimates (TFMA).
- `confident`: fail only when the whole confidence interval is on the wrong side of the bar, pass
  only when it is wholly on the right side; otherwise inconclusive.

Groups with fewer than `min_examples` rows are `skipped` (never passed). A metric the group's data
cannot define (AUC or recall with no positives; the candidate and the incumbent both undefined) is
`undefined`: reported, never passed, never a crash (the overall group is then inconclusive). A candidate
whose metric is undefined where the incumbent's is defined fails (fail closed). `point` mode judges the
point values alone; in `confident` mode an interval no bootstrap resample defines is inconclusive. Without an incumbent (first deploy) the gate's policy
decides: `value_thresholds` judges value thresholds only (a check with only a change threshold is
skipped), `fail` fails every check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from cd.config.model import ChangeThreshold, ValueThreshold

Outcome = Literal["pass", "fail", "inconclusive", "skipped", "undefined", "underpowered"]
VerdictOutcome = Literal["pass", "fail", "inconclusive"]
Mode = Literal["point", "confident"]
FirstDeployPolicy = Literal["value_thresholds", "fail"]

NO_INCUMBENT = "no incumbent: change threshold not applicable (first deploy)"

_SEVERITY: dict[str, int] = {
    "skipped": 0,
    "undefined": 0,
    "underpowered": 0,
    "pass": 1,
    "inconclusive": 2,
    "fail": 3,
}


@dataclass(frozen=True)
class Estimate:
    """A value with its bootstrap confidence interval (None bounds: no bootstrap was run)."""

    value: float
    low: float | None = None
    high: float | None = None
    undefined_resamples: int = 0  # bootstrap resamples on which the metric was undefined (left out)
    se: float | None = None  # bootstrap standard error (None: no bootstrap was run)

    @property
    def defined(self) -> bool:
        return not math.isnan(self.value)

    @property
    def interval_defined(self) -> bool:
        return not any(x is not None and math.isnan(x) for x in (self.low, self.high))


@dataclass(frozen=True)
class CheckInput:
    metric: str
    higher_is_better: bool | None
    examples: int  # rows in the group (unweighted)
    is_overall: bool
    candidate: Estimate
    incumbent: Estimate | None  # None: no incumbent (first deploy)
    delta: Estimate | None  # candidate - incumbent, paired
    value: ValueThreshold | None
    change: ChangeThreshold | None
    undefined_by_data: str | None = None  # why this group's data cannot define the metric (no positives)
    too_few_of_a_class: str | None = None  # e.g. "12 positives < min_positives 20" (see class_counts_rule)


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: tuple[str, ...]
    allowed_delta: float | None = None  # the change bar: delta must be >= (higher better) or <= this
    p_worse: float | None = None  # one-sided p-value against "within every bar" (confident mode)
    value_outcome: Outcome | None = None  # the value threshold's part (None: no value threshold)


def p_value(value: float, se: float | None, bar: float, *, below: bool) -> float:
    """One-sided p-value (TFMA's approach: the normal approximation with the bootstrap standard error)
    against "the statistic is at least `bar`" (`below`: small when it is clearly below the bar) or "at
    most `bar`" (small when clearly above). Unlike a share of resamples, it resolves the small p-values
    a multiplicity correction over ~100 checks needs (200 resamples cannot show a share under 1/200).
    NaN without a standard error."""
    if se is None or math.isnan(value) or math.isnan(se):
        return math.nan
    if se == 0.0:
        clearly = value < bar if below else value > bar
        return 0.0 if clearly else 1.0
    z = (value - bar) / se
    return 0.5 * math.erfc(-z / math.sqrt(2.0)) if below else 0.5 * math.erfc(z / math.sqrt(2.0))


def worst(outcomes: list[Outcome]) -> Outcome:
    return max(outcomes, key=lambda o: _SEVERITY[o]) if outcomes else "skipped"


def _fmt(x: float | None) -> str:
    return "nan" if x is None or math.isnan(x) else f"{x:.4g}"


def _bounds(est: Estimate, mode: Mode) -> tuple[float, float]:
    if mode == "point" or est.low is None or est.high is None:
        return est.value, est.value
    return est.low, est.high


def _interval_text(est: Estimate, mode: Mode) -> str:
    if mode == "confident" and est.low is not None and est.high is not None:
        return f"{_fmt(est.value)} (CI {_fmt(est.low)}..{_fmt(est.high)})"
    return _fmt(est.value)


def _judge_bar(low: float, high: float, bar: float, at_least: bool) -> Outcome:
    """Is [low, high] wholly on the allowed side of `bar` (>= bar if at_least, else <= bar)?"""
    if at_least:
        return "pass" if low >= bar else "fail" if high < bar else "inconclusive"
    return "pass" if high <= bar else "fail" if low > bar else "inconclusive"


def _p_worse(est: Estimate, bar: float, at_least: bool, mode: Mode) -> float | None:
    """The p-value against "on the allowed side of `bar`" (confident mode only)."""
    if mode != "confident":
        return None
    p = p_value(est.value, est.se, bar, below=at_least)
    return None if math.isnan(p) else p


def _bonferroni(ps: list[float | None]) -> float | None:
    """A check judged against k bars fails when any bar is failed: min p, times k."""
    known = [p for p in ps if p is not None]
    return min(1.0, len(known) * min(known)) if known else None


def judge_value(metric: str, est: Estimate, threshold: ValueThreshold, mode: Mode) -> Decision:
    low, high = _bounds(est, mode)
    outcomes: list[Outcome] = []
    reasons: list[str] = []
    ps: list[float | None] = []
    shown = _interval_text(est, mode)
    if threshold.min is not None:
        o = _judge_bar(low, high, threshold.min, at_least=True)
        outcomes.append(o)
        ps.append(_p_worse(est, threshold.min, True, mode))
        if o != "pass":
            reasons.append(
                f"{metric} {shown} {'below' if o == 'fail' else 'not clearly above'} min {threshold.min:g}"
            )
    if threshold.max is not None:
        o = _judge_bar(low, high, threshold.max, at_least=False)
        outcomes.append(o)
        ps.append(_p_worse(est, threshold.max, False, mode))
        if o != "pass":
            reasons.append(
                f"{metric} {shown} {'above' if o == 'fail' else 'not clearly below'} max {threshold.max:g}"
            )
    return Decision(worst(outcomes) if outcomes else "pass", tuple(reasons), p_worse=_bonferroni(ps))


def allowed_worsening(threshold: ChangeThreshold, incumbent: float) -> float:
    options = []
    if threshold.absolute is not None:
        options.append(threshold.absolute)
    if threshold.relative is not None:
        options.append(threshold.relative * abs(incumbent))
    return max(options) if options else 0.0


def judge_change(
    metric: str,
    higher_is_better: bool,
    incumbent: Estimate,
    delta: Estimate,
    threshold: ChangeThreshold,
    mode: Mode,
) -> Decision:
    tolerance = allowed_worsening(threshold, incumbent.value)
    bar = -tolerance if higher_is_better else tolerance
    low, high = _bounds(delta, mode)
    outcome = _judge_bar(low, high, bar, at_least=higher_is_better)
    reasons: tuple[str, ...] = ()
    if outcome != "pass":
        direction = "drop" if higher_is_better else "rise"
        verdict = "exceeds" if outcome == "fail" else "may exceed"
        reasons = (
            f"{metric} change {_interval_text(delta, mode)} vs incumbent {_fmt(incumbent.value)}: "
            f"{direction} {verdict} the tolerated {tolerance:.4g}",
        )
    return Decision(outcome, reasons, allowed_delta=bar, p_worse=_p_worse(delta, bar, higher_is_better, mode))


def _undefined(check: CheckInput) -> Decision | None:
    """`undefined` when the group's data cannot define the metric for any model (inconclusive overall)."""
    reason = check.undefined_by_data
    both = not check.candidate.defined and check.incumbent is not None and not check.incumbent.defined
    if reason is None and both:
        reason = "undefined for the candidate and the incumbent alike"
    if reason is None:
        return None
    text = f"{check.metric} is undefined on this group: {reason}"
    return Decision("inconclusive" if check.is_overall else "undefined", (text,))


def decide(check: CheckInput, mode: Mode, min_examples: int, first_deploy: FirstDeployPolicy) -> Decision:
    """The outcome of one check on one group."""
    if check.examples < min_examples:
        if check.is_overall:
            return Decision(
                "inconclusive",
                (f"only {check.examples} examples overall, fewer than min_examples {min_examples}",),
            )
        return Decision("skipped", (f"{check.examples} examples < min_examples {min_examples}",))
    if check.too_few_of_a_class is not None:
        if check.is_overall:
            return Decision("inconclusive", (f"overall: {check.too_few_of_a_class}",))
        return Decision("skipped", (check.too_few_of_a_class,))
    if check.incumbent is None and first_deploy == "fail":
        return Decision("fail", ("no incumbent and the gate's first_deploy policy is `fail`",))
    undefined = _undefined(check)
    if undefined is not None:
        return undefined
    wants_change = check.change is not None and check.incumbent is not None
    numbers = [check.candidate]
    if wants_change:
        assert check.incumbent is not None and check.delta is not None
        numbers += [check.incumbent, check.delta]
    if not all(e.defined for e in numbers):
        who = "candidate" if not check.candidate.defined else "incumbent"
        return Decision("fail", (f"{check.metric} is undefined for the {who} on this data: fails closed",))
    if mode == "confident" and not all(e.interval_defined for e in numbers):
        return Decision(
            "inconclusive", (f"{check.metric}: no bootstrap resample defines it, so there is no interval",)
        )
    decisions: list[Decision] = []
    if check.value is not None:
        decisions.append(judge_value(check.metric, check.candidate, check.value, mode))
    if check.change is not None:
        if check.incumbent is None or check.delta is None:
            if check.value is None:
                return Decision("skipped", (NO_INCUMBENT,))
        else:
            if check.higher_is_better is None:
                return Decision(
                    "fail", (f"{check.metric} has no direction; a change threshold cannot apply",)
                )
            decisions.append(
                judge_change(
                    check.metric, check.higher_is_better, check.incumbent, check.delta, check.change, mode
                )
            )
    if not decisions:
        return Decision("skipped", ("no threshold applies",))
    allowed = next((d.allowed_delta for d in decisions if d.allowed_delta is not None), None)
    value_part = decisions[0].outcome if check.value is not None else None
    return Decision(
        worst([d.outcome for d in decisions]),
        tuple(r for d in decisions for r in d.reasons),
        allowed_delta=allowed,
        p_worse=_bonferroni([d.p_worse for d in decisions]),
        value_outcome=value_part,
    )


def overall_verdict(outcomes: list[Outcome]) -> VerdictOutcome:
    """fail if anything failed; inconclusive if anything was, or if nothing passed at all; else pass."""
    if "fail" in outcomes:
        return "fail"
    if "inconclusive" in outcomes or "pass" not in outcomes:
        return "inconclusive"
    return "pass"

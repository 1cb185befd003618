"""The gate's checks as one family: multiplicity control and power. Pure functions over check results.

**Which error rate.** A check *fails* when its interval lies wholly on the wrong side of a bar: a
one-sided test at level α = (1 − confidence)/2 (2.5% at 95%). Run ~100 such checks on a candidate that
is truly within every tolerance and some fail by chance. The gate therefore corrects the fail decisions
across the family of checks that were judged (skipped and undefined ones are not in it):

- `holm` (default): Holm's step-down; the probability that a candidate within every tolerance fails
  any check is at most α (family-wise error rate), under any dependence between checks.
- `bh`: Benjamini–Hochberg; the expected share of false fails among the fails is at most α (false
  discovery rate; valid for independent or positively dependent checks).
- `none`: each check judged alone at α.

A fail whose adjusted p-value exceeds α becomes *inconclusive*. Passing needs no correction: the verdict
passes only when every check passes (an intersection–union test), so each check at level α keeps the
chance of passing a candidate that is worse than some tolerance at most α.

**Power.** For a change check, the *minimum detectable effect* is the smallest tolerance the check can
confirm with 80% probability when the candidate is truly as good as the incumbent:
`MDE = (z₁₋α + z₀.₈) · se(delta)`, from the paired bootstrap's standard error of the difference. A check
whose MDE exceeds its own tolerance is *underpowered*: it is reported apart, never counted as a pass,
and does not block (unless it fails). For a value check the MDE is the margin over the bar the check can
confirm (`(z₁₋α + z₀.₈) · se(metric)`), shown for sizing; it never makes a check underpowered.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import assert_never

from cd.config.model import Multiplicity
from cd.gates.verdict import CheckResult

POWER = 0.8
_NORMAL = NormalDist()


def holm(ps: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (Holm 1979), in the input order."""
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        adjusted[i] = running
    return adjusted


def benjamini_hochberg(ps: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (scipy's `false_discovery_control`), in the input order."""
    if not ps:
        return []
    from scipy.stats import false_discovery_control

    return [float(p) for p in false_discovery_control(list(ps), method="bh")]


def adjusted(ps: Sequence[float], method: Multiplicity) -> list[float]:
    match method:
        case "holm":
            return holm(ps)
        case "bh":
            return benjamini_hochberg(ps)
        case "none":
            return list(ps)
        case _:
            assert_never(method)


def controlled_rate(method: Multiplicity, alpha: float) -> str:
    """What the report says about the error rate."""
    match method:
        case "holm":
            return f"family-wise error rate of false fails ≤ {alpha:.3g} (Holm)"
        case "bh":
            return f"false discovery rate among fails ≤ {alpha:.3g} (Benjamini–Hochberg)"
        case "none":
            return f"none: each check alone at {alpha:.3g}; false fails grow with the number of checks"
        case _:
            assert_never(method)


def minimum_detectable(se: float | None, alpha: float, power: float = POWER) -> float | None:
    """`(z₁₋α + z_power) · se`: the margin a one-sided test at level α confirms with probability `power`."""
    if se is None or math.isnan(se):
        return None
    return (_NORMAL.inv_cdf(1.0 - alpha) + _NORMAL.inv_cdf(power)) * se


@dataclass(frozen=True)
class FamilyPolicy:
    multiplicity: Multiplicity
    alpha: float  # one-sided level of one check: (1 - confidence) / 2


def control(results: Sequence[CheckResult], policy: FamilyPolicy) -> tuple[CheckResult, ...]:
    """The checks after multiplicity control and the power rule (see the module docstring)."""
    family = [i for i, r in enumerate(results) if r.p_worse is not None]
    ps = [p for p in (results[i].p_worse for i in family) if p is not None]
    adjusted_ps = adjusted(ps, policy.multiplicity)
    by_index = dict(zip(family, adjusted_ps, strict=True))
    out = []
    for i, result in enumerate(results):
        out.append(_powered(_corrected(result, by_index.get(i), len(family), policy), policy))
    return tuple(out)


def _corrected(result: CheckResult, p_adjusted: float | None, m: int, policy: FamilyPolicy) -> CheckResult:
    if p_adjusted is None:
        return result
    result = replace(result, p_adjusted=p_adjusted)
    if result.outcome != "fail" or p_adjusted <= policy.alpha:
        return result
    reason = (
        f"not a fail after {policy.multiplicity} over {m} checks: p {result.p_worse:.3g} alone, "
        f"adjusted {p_adjusted:.3g} > {policy.alpha:.3g}"
    )
    return replace(result, outcome="inconclusive", reasons=(*result.reasons, reason))


def _powered(result: CheckResult, policy: FamilyPolicy) -> CheckResult:
    bar = result.allowed_delta
    if result.change_threshold is not None and result.delta is not None and bar is not None:
        mde = minimum_detectable(result.delta.se, policy.alpha)
        result = replace(result, mde=mde)
        tolerance = abs(bar)
        judged = result.outcome in ("pass", "inconclusive") and result.value_outcome in (None, "pass")
        if mde is not None and mde > tolerance and judged:
            reason = (
                f"underpowered: the smallest change this check can confirm is {mde:.3g} "
                f"(80% power), more than its tolerance {tolerance:.3g}"
            )
            return replace(result, outcome="underpowered", reasons=(*result.reasons, reason))
        return result
    if result.value_threshold is not None and result.candidate.se is not None:
        return replace(result, mde=minimum_detectable(result.candidate.se, policy.alpha))
    return result

"""A/B experiments between stable and candidates on a business metric, decided sequentially. Pure.

Each arm is summarised by its count, sum and sum of squares of the metric (a 0/1 conversion, or any
number). A challenger is compared with the control (stable) by the mixture sequential probability ratio
test for a difference of means (Johari, Pekelis, Koomen & Walsh, "Always valid inference"), normal
approximation with a N(0, tau^2) mixture over the difference, tau the policy's `effect_of_interest`:

    V = s_control^2 / n_control + s_challenger^2 / n_challenger
    Lambda = sqrt(V / (V + tau^2)) * exp(d^2 tau^2 / (2 V (V + tau^2)))       (d: the observed difference)

1/Lambda is an always-valid p-value: the chance that it ever drops below alpha under "no difference" is at
most alpha, however often it is looked at (Ville's inequality), so `modelcd experiment` may run every hour
and stop at the first decision. The confidence sequence {d': Lambda(d - d') < 1/alpha} is reported beside.
With several challengers, each comparison runs at alpha / k (Bonferroni).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cd.config.model import ExperimentPolicy

Outcome = Literal["candidate_wins", "stable_wins", "undecided", "not_enough_data", "expired"]


@dataclass(frozen=True)
class Arm:
    """One variant's metric over the experiment: count, sum and sum of squares."""

    variant: str
    version: int | None
    n: int
    total: float
    squares: float

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan

    @property
    def variance(self) -> float:
        """The sample variance (n - 1 in the denominator)."""
        if self.n < 2:
            return math.nan
        return max(0.0, (self.squares - self.total * self.total / self.n) / (self.n - 1))

    @staticmethod
    def of(variant: str, version: int | None, values: Sequence[float] | Any) -> Arm:
        import numpy as np

        x = np.asarray(values, dtype=np.float64)
        return Arm(variant, version, len(x), float(x.sum()), float(np.dot(x, x)))


@dataclass(frozen=True)
class Comparison:
    challenger: str
    control: str
    difference: float  # challenger mean - control mean
    low: float  # the confidence sequence, at the comparison's level
    high: float
    e_value: float  # Lambda
    level: float  # alpha / number of challengers

    @property
    def p_value(self) -> float:
        return min(1.0, 1.0 / self.e_value) if self.e_value > 0 else 1.0

    @property
    def significant(self) -> bool:
        return self.p_value <= self.level


def msprt(control: Arm, challenger: Arm, tau: float, level: float) -> Comparison:
    """The normal-mixture SPRT of challenger vs control (see the module docstring)."""
    d = challenger.mean - control.mean
    v = control.variance / control.n + challenger.variance / challenger.n
    if not v > 0 or math.isnan(d):
        return Comparison(challenger.variant, control.variant, d, -math.inf, math.inf, 1.0, level)
    t2 = tau * tau
    log_e = 0.5 * math.log(v / (v + t2)) + d * d * t2 / (2 * v * (v + t2))
    radius = math.sqrt(v * (v + t2) / t2 * (2 * math.log(1 / level) + math.log((v + t2) / v)))
    return Comparison(
        challenger.variant, control.variant, d, d - radius, d + radius, math.exp(min(log_e, 700.0)), level
    )


@dataclass(frozen=True)
class ExperimentDecision:
    outcome: Outcome
    arms: tuple[Arm, ...]  # control first
    comparisons: tuple[Comparison, ...]
    message: str
    winner: str | None = None

    def to_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if math.isnan(x) or math.isinf(x) else round(x, 6)

        return {
            "outcome": self.outcome,
            "winner": self.winner,
            "message": self.message,
            "arms": [
                {"variant": a.variant, "version": a.version, "n": a.n, "mean": num(a.mean)} for a in self.arms
            ],
            "comparisons": [
                {
                    "challenger": c.challenger,
                    "control": c.control,
                    "difference": num(c.difference),
                    "low": num(c.low),
                    "high": num(c.high),
                    "p_value": num(c.p_value),
                    "level": c.level,
                }
                for c in self.comparisons
            ],
        }


def _better(c: Comparison, higher_is_better: bool) -> bool:
    return c.difference > 0 if higher_is_better else c.difference < 0


def decide_experiment(
    arms: Sequence[Arm], policy: ExperimentPolicy, *, elapsed: float, duration: float
) -> ExperimentDecision:
    """Who wins, if anyone yet. `arms[0]` is the control (stable). Too few samples in any arm waits
    (neither win nor loss); past `duration` an undecided experiment expires (traffic back to stable)."""
    control, challengers = arms[0], list(arms[1:])
    level = policy.alpha / max(1, len(challengers))
    comparisons = tuple(msprt(control, c, policy.effect_of_interest, level) for c in challengers)
    expired = elapsed >= duration
    short = [a.variant for a in arms if a.n < policy.min_samples]
    if short:
        outcome: Outcome = "expired" if expired else "not_enough_data"
        why = f"{', '.join(short)} below min_samples {policy.min_samples}"
        return ExperimentDecision(
            outcome, tuple(arms), comparisons, f"{why}{': time is up' if expired else ''}"
        )
    winners = [c for c in comparisons if c.significant and _better(c, policy.higher_is_better)]
    if winners:
        best = max(winners, key=lambda c: c.difference if policy.higher_is_better else -c.difference)
        message = (
            f"{best.challenger} beats {control.variant} on {policy.metric}: difference {best.difference:+.4g} "
            f"[{best.low:+.4g}, {best.high:+.4g}], always-valid p {best.p_value:.3g} <= {level:.3g}"
        )
        return ExperimentDecision("candidate_wins", tuple(arms), comparisons, message, best.challenger)
    if comparisons and all(c.significant and not _better(c, policy.higher_is_better) for c in comparisons):
        worst = comparisons[0]
        message = (
            f"{control.variant} beats {worst.challenger} on {policy.metric}: difference {worst.difference:+.4g} "
            f"[{worst.low:+.4g}, {worst.high:+.4g}], always-valid p {worst.p_value:.3g} <= {level:.3g}"
        )
        return ExperimentDecision("stable_wins", tuple(arms), comparisons, message, control.variant)
    summary = "; ".join(f"{c.challenger} {c.difference:+.4g} (p {c.p_value:.3g})" for c in comparisons)
    if expired:
        return ExperimentDecision("expired", tuple(arms), comparisons, f"no winner in time: {summary}")
    return ExperimentDecision("undecided", tuple(arms), comparisons, f"no winner yet: {summary}")

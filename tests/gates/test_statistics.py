"""Gate statistics a statistician would sign: BCa intervals, multiplicity control, power, class counts.
Simulations run at a fixed seed; benchmarks/gate_statistics.py runs the larger versions and prints them."""

from __future__ import annotations

import math
from dataclasses import replace
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from benchmarks.gate_statistics import boundary_gate, coverage
from cd.config.model import (
    ChangeThreshold,
    DatasetSpec,
    Gate,
    MetricCheck,
    Multiplicity,
    SliceSpec,
    ValueThreshold,
)
from cd.gates.evaluate import judge
from cd.gates.family import FamilyPolicy, benjamini_hochberg, control, holm, minimum_detectable
from cd.gates.intervals import Bootstrapped, acceleration
from cd.gates.scoring import Predictions
from cd.gates.slicing import partitions
from cd.gates.verdict import CheckResult

P = [0.01, 0.04, 0.03, 0.005]


def test_holm_adjusts_step_down() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4*0.005, 3*0.01, max(2*0.03, .), max(1*0.04, .)
    assert holm(P) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_benjamini_hochberg_adjusts_step_up() -> None:
    # m*p/rank = 0.02, 0.02, 0.04, 0.04, then the running minimum from the top
    assert benjamini_hochberg(P) == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_bca_without_bias_or_acceleration_is_the_percentile_interval() -> None:
    samples = np.linspace(0.0, 1.0, 201)
    stat = Bootstrapped(point=0.5, samples=samples, accel=0.0)
    assert stat.interval(0.9, "bca") == pytest.approx(stat.interval(0.9, "percentile"))
    assert stat.interval(0.9, "percentile") == pytest.approx((0.05, 0.95))


def test_bca_moves_the_interval_towards_a_point_above_the_resamples_median() -> None:
    samples = np.linspace(0.0, 1.0, 201)
    low, high = Bootstrapped(point=0.6, samples=samples).interval(0.9, "bca")
    assert low > 0.05 and high > 0.95 - 1e-9


def test_acceleration_of_delete_one_jackknife_means_is_the_skewness_formula() -> None:
    x = np.random.default_rng(1).exponential(size=200)
    jack = (x.sum() - x) / (len(x) - 1)
    d = x - x.mean()
    expected = np.sum(d**3) / (6 * np.sum(d**2) ** 1.5)
    assert acceleration(jack) == pytest.approx(expected)


def test_bca_intervals_cover_at_their_nominal_level_by_simulation() -> None:
    table = coverage(n=150, replicates=200, confidences=(0.95,), seed=11)
    bca = [c for c in table if c.method == "bca"]
    low = [(c.metric, c.share) for c in bca if c.share < c.confidence - 3 * c.mc_error]
    high = [(c.metric, c.share) for c in bca if c.share > c.confidence + 3 * c.mc_error]
    assert (low, high) == ([], [])


def _boundary_gates(gates: int) -> list[tuple[CheckResult, ...]]:
    """`gates` simulated gates (30 slices x accuracy) whose candidate is worse by exactly the tolerance."""
    slices, rows = 30, 200
    rng = np.random.default_rng(5)
    n = slices * rows
    frame = pd.DataFrame({"segment": np.repeat([f"s{i:02d}" for i in range(slices)], rows)})
    gate = replace(boundary_gate("none", slices), bootstrap_resamples=100)
    parts = partitions(frame, gate.slices)
    out = []
    for g in range(gates):
        y = rng.random(n) < 0.5
        inc = Predictions("binary_classification", y, np.where((rng.random(n) < 0.80) == y, 0.9, 0.1))
        cand = Predictions("binary_classification", y, np.where((rng.random(n) < 0.78) == y, 0.9, 0.1))
        out.append(judge(replace(gate, seed=g), "binary_classification", parts, cand, inc, n))
    return out


def test_holm_keeps_false_fails_under_alpha_where_checks_alone_do_not() -> None:
    alpha, gates = 0.025, 200
    simulated = _boundary_gates(gates)
    mc = math.sqrt(alpha * (1 - alpha) / gates)

    def share(policy: Multiplicity) -> float:
        fam = FamilyPolicy(policy, alpha)
        return sum(any(c.outcome == "fail" for c in control(checks, fam)) for checks in simulated) / gates

    assert share("none") > 0.2  # 30 checks alone: false fails are the rule
    assert share("holm") <= alpha + 2 * mc
    assert share("bh") <= alpha + 2 * mc


def test_the_minimum_detectable_change_of_an_accuracy_is_the_two_proportion_formula() -> None:
    n, rng = 4000, np.random.default_rng(3)
    y = rng.random(n) < 0.5
    inc_right, cand_right = rng.random(n) < 0.80, rng.random(n) < 0.80
    inc = Predictions("binary_classification", y, np.where(inc_right == y, 0.9, 0.1))
    cand = Predictions("binary_classification", y, np.where(cand_right == y, 0.9, 0.1))
    gate = Gate(
        model="m",
        dataset=DatasetSpec("d.csv", "y", "csv"),
        metrics=(MetricCheck("accuracy", change=ChangeThreshold(absolute=0.01)),),
        bootstrap_resamples=2000,
        multiplicity="none",
    )
    (check,) = judge(
        gate, "binary_classification", partitions(pd.DataFrame(index=range(n)), ()), cand, inc, n
    )

    p1, p2 = inc_right.mean(), cand_right.mean()
    z = NormalDist().inv_cdf(0.975) + NormalDist().inv_cdf(0.8)
    closed_form = z * math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / n)
    assert check.mde == pytest.approx(closed_form, rel=0.05)
    assert minimum_detectable(1.0, 0.025) == pytest.approx(z)
    assert check.outcome == "underpowered"  # 0.0246 > 0.01: 4000 rows cannot confirm a 1-point tolerance


def test_a_slice_with_few_positives_is_skipped_however_many_rows_it_has() -> None:
    n = 500
    y = np.zeros(n, bool)
    y[:3] = True
    model = Predictions("binary_classification", y, np.where(y, 0.8, 0.2))
    frame = pd.DataFrame({"segment": ["a"] * n})
    gate = Gate(
        model="m",
        dataset=DatasetSpec("d.csv", "y", "csv"),
        metrics=(MetricCheck("roc_auc", value=ValueThreshold(min=0.7), slices=("segment",)),),
        slices=(SliceSpec("segment", ("segment",)),),
        bootstrap_resamples=50,
    )
    (check,) = judge(gate, "binary_classification", partitions(frame, gate.slices), model, None, n)
    assert (check.outcome, check.reasons, check.positives) == (
        "skipped",
        ("3 positives < min_positives 10",),
        3,
    )

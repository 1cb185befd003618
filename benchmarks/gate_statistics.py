"""Gate statistics by simulation: interval coverage, multiplicity control, and the 1M-row timing.
Prints figures, asserts nothing (tests/gates/test_statistics.py pins smaller runs of the same code).

1. Coverage: binary data with known truth (y ~ Bernoulli(0.3), score = sigmoid(N(0,1) + 1.2 y)); the
   true metric values come from 2,000,000 rows. Per metric and n, the share of replicates whose interval
   holds the truth, for the percentile and the BCa interval, at 90% and 95%.
2. Multiplicity: gates of 40 slices x accuracy with a change threshold, where the candidate is worse
   than the incumbent by exactly the tolerance in every slice (the boundary of "no worse than
   tolerated"). The share of gates with at least one fail, for `none`, `holm` and `bh`, against the
   one-sided α = (1 - confidence)/2.
3. Timing: `judge` on 1,000,000 rows, 10 slices, candidate and incumbent, 200 resamples, with the
   percentile interval and with BCa (which adds the grouped jackknife).

    python benchmarks/gate_statistics.py [--replicates 2000] [--gates 200] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cd.config.model import (
    ChangeThreshold,
    DatasetSpec,
    Gate,
    IntervalMethod,
    MetricCheck,
    Multiplicity,
    SliceSpec,
)
from cd.gates.bootstrap import bootstrap
from cd.gates.evaluate import judge
from cd.gates.intervals import bootstrapped, jackknife_counts
from cd.gates.metrics import BinaryKernel
from cd.gates.scoring import Predictions
from cd.gates.slicing import partitions

COVERAGE_METRICS = ("roc_auc", "pr_auc", "accuracy", "recall", "log_loss", "brier")
SEPARATION = 1.2
PREVALENCE = 0.3


def draw(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = rng.random(n) < PREVALENCE
    scores = 1.0 / (1.0 + np.exp(-(rng.normal(0.0, 1.0, n) + SEPARATION * y - 0.8)))
    return y, scores


def true_values(rows: int = 2_000_000, seed: int = 12345) -> dict[str, float]:
    y, scores = draw(rows, np.random.default_rng(seed))
    kernel = BinaryKernel(y, scores, [np.arange(rows)])
    values = kernel.evaluate(np.ones((1, rows), np.uint8))
    return {m: float(values[m][0, 0]) for m in COVERAGE_METRICS}


@dataclass(frozen=True)
class Coverage:
    metric: str
    n: int
    confidence: float
    method: IntervalMethod
    covered: int
    replicates: int

    @property
    def share(self) -> float:
        return self.covered / self.replicates

    @property
    def mc_error(self) -> float:
        """The Monte-Carlo standard error of the share at the nominal level."""
        return float(np.sqrt(self.confidence * (1 - self.confidence) / self.replicates))


def coverage(
    n: int,
    replicates: int,
    confidences: Sequence[float] = (0.90, 0.95),
    resamples: int = 200,
    seed: int = 0,
    truth: dict[str, float] | None = None,
) -> list[Coverage]:
    """Coverage of the percentile and BCa intervals per metric at sample size n."""
    truth = truth or true_values()
    methods: tuple[IntervalMethod, ...] = ("percentile", "bca")
    hits = {(m, c, k): 0 for m in COVERAGE_METRICS for c in confidences for k in methods}
    rng = np.random.default_rng(seed)
    jack = jackknife_counts(n)
    for r in range(replicates):
        y, scores = draw(n, rng)
        kernel = BinaryKernel(y, scores, [np.arange(n)])
        point = kernel.evaluate(np.ones((1, n), np.uint8))
        (samples,) = bootstrap([kernel], n, resamples, seed=r)
        jackknife = kernel.evaluate(jack)
        for metric in COVERAGE_METRICS:
            stat = bootstrapped(point[metric][0, 0], samples[metric][0], jackknife[metric][0])
            for c in confidences:
                for method in methods:
                    low, high = stat.interval(c, method)
                    hits[(metric, c, method)] += int(low <= truth[metric] <= high)
    return [
        Coverage(m, n, c, k, hits[(m, c, k)], replicates)
        for m in COVERAGE_METRICS
        for c in confidences
        for k in methods
    ]


def boundary_gate(multiplicity: Multiplicity, slices: int) -> Gate:
    return Gate(
        model="sim",
        dataset=DatasetSpec("data/sim.csv", "y", "csv"),
        metrics=(MetricCheck("accuracy", change=ChangeThreshold(absolute=0.02), slices=("segment",)),),
        slices=(SliceSpec("segment", ("segment",)),),
        min_examples=20,
        bootstrap_resamples=200,
        multiplicity=multiplicity,
        interval="percentile",  # accuracy needs no BCa; keeps the simulation fast
    )


def false_fail_share(
    multiplicity: Multiplicity, gates: int, slices: int = 40, rows_per_slice: int = 400, seed: int = 0
) -> float:
    """Share of simulated gates with a fail when the candidate is worse by exactly the tolerance in
    every slice (each check's null hypothesis holds, at its boundary)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = slices * rows_per_slice
    frame = pd.DataFrame({"segment": np.repeat([f"s{i:02d}" for i in range(slices)], rows_per_slice)})
    gate = boundary_gate(multiplicity, slices)
    parts = partitions(frame, gate.slices)
    failed = 0
    for g in range(gates):
        y = rng.random(n) < 0.5
        # the incumbent is right on 80% of rows, the candidate on 78%: worse by exactly 0.02
        inc_right = rng.random(n) < 0.80
        cand_right = rng.random(n) < 0.78
        inc = Predictions("binary_classification", y, np.where(inc_right == y, 0.9, 0.1))
        cand = Predictions("binary_classification", y, np.where(cand_right == y, 0.9, 0.1))
        checks = judge(replace(gate, seed=g), "binary_classification", parts, cand, inc, n)
        failed += any(c.outcome == "fail" for c in checks)
    return failed / gates


def judge_timing(rows: int, interval: IntervalMethod, seed: int = 0) -> float:
    import pandas as pd

    rng = np.random.default_rng(seed)
    y = rng.random(rows) < 0.3
    cand = Predictions(
        "binary_classification", y, 1 / (1 + np.exp(-(rng.normal(0, 1, rows) + 1.6 * y - 1.2)))
    )
    inc = Predictions("binary_classification", y, 1 / (1 + np.exp(-(rng.normal(0, 1, rows) + 1.4 * y - 1.1))))
    frame = pd.DataFrame({"segment": rng.integers(0, 10, rows).astype(str)})
    metrics = tuple(
        MetricCheck(m, change=ChangeThreshold(absolute=0.01))
        for m in ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss", "brier")
    )
    gate = Gate(
        model="bench",
        dataset=DatasetSpec("data/b.csv", "y", "csv"),
        metrics=metrics,
        slices=(SliceSpec("segment", ("segment",)),),
        bootstrap_resamples=200,
        interval=interval,
    )
    parts = partitions(frame, gate.slices)
    start = time.perf_counter()
    judge(gate, "binary_classification", parts, cand, inc, rows)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicates", type=int, default=2000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[150, 600, 5000])
    parser.add_argument("--gates", type=int, default=200)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    truth = true_values()
    print(f"1. Coverage ({args.replicates} replicates, 200 resamples; truth from 2,000,000 rows)")
    print(f"   {'metric':<10} {'n':>5} {'nominal':>8} {'percentile':>11} {'BCa':>7}   (MC s.e.)")
    for n in args.sizes:
        table = coverage(n, args.replicates, truth=truth)
        for metric in COVERAGE_METRICS:
            for c in (0.90, 0.95):
                pct, bca = (
                    next(x for x in table if (x.metric, x.confidence, x.method) == (metric, c, k))
                    for k in ("percentile", "bca")
                )
                print(
                    f"   {metric:<10} {n:>5} {c:>8.2f} {pct.share:>11.3f} {bca.share:>7.3f}   ({bca.mc_error:.3f})"
                )

    alpha = 0.025
    mc = float(np.sqrt(alpha * (1 - alpha) / args.gates))
    print(
        f"\n2. False fails at the null's boundary ({args.gates} gates x 40 slices; α = {alpha}, MC s.e. {mc:.3f})"
    )
    for method in ("none", "holm", "bh"):
        print(f"   {method:<5} {false_fail_share(method, args.gates):.3f}")

    print(f"\n3. judge() on {args.rows:,} rows, 10 slices + overall, 8 metrics, 2 models, 200 resamples")
    for interval in ("percentile", "bca"):
        print(f"   {interval:<10} {judge_timing(args.rows, interval):.2f} s")


if __name__ == "__main__":
    main()

"""Gate evaluation benchmark: prints figures, asserts nothing.

Precomputed scores for 1,000,000 rows, 10 slices (one categorical feature with 10 values) plus
overall, candidate + incumbent, 200 paired bootstrap resamples, every binary metric. Times
`cd.gates` against a straightforward scikit-learn loop doing the same work (materialise each
resample's rows, call the sklearn metric functions per model and slice). When the full sklearn loop
would take more than 5 minutes it runs on a few resamples and is extrapolated; the output says so.
Values are checked to be identical (max |difference| over every metric, slice and resample run).

    python benchmarks/gate_eval.py [--rows 1000000] [--slices 10] [--resamples 200] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cd.gates.bootstrap import bootstrap, resample_counts
from cd.gates.metrics import ECE_BINS, METRICS, BinaryKernel, ece_bin_index

SKLEARN_BUDGET_SECONDS = 300.0


def make_data(n: int, slices: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    candidate = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + 1.6 * y - 1.2)))
    incumbent = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + 1.4 * y - 1.1)))
    slice_of = rng.integers(0, slices, n)
    return y, candidate, incumbent, slice_of


def evaluate_ours(
    y: np.ndarray,
    scores: list[np.ndarray],
    groups: list[list[np.ndarray]],
    resamples: int,
    seed: int,
    workers: int,
) -> tuple[list[dict[str, np.ndarray]], list[dict[str, np.ndarray]]]:
    """Point estimates and bootstrap samples for every (model, partition) kernel."""
    with ThreadPoolExecutor(max_workers=workers) as pool:  # as cd.gates.evaluate.make_kernels
        kernels = list(pool.map(lambda sg: BinaryKernel(y, *sg), [(s, g) for s in scores for g in groups]))
    ones = np.ones((1, len(y)), np.uint8)
    points = [k.evaluate(ones) for k in kernels]
    samples = bootstrap(kernels, len(y), resamples, seed, workers=workers)
    return points, samples


def numpy_floor(y: np.ndarray, p: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Tight hand-written NumPy for every binary metric of ONE model over ALL rows (no slices),
    resample by resample: one sort; per resample a uint8 gather, integer prefix sums, gathers at the
    positives and weighted sums. Assumes distinct scores (no tie handling): a floor, not a reference."""
    eps = float(np.finfo(np.float64).eps)
    order = np.argsort(p)
    ys, ps = y[order], p[order]
    stats = np.stack(
        [-np.log(np.clip(np.where(ys, ps, 1 - ps), eps, 1 - eps)), (ys - ps) ** 2, ys - ps]
    )  # (3, n)
    bins = ece_bin_index(ps)
    at_pos = np.flatnonzero(ys)  # sorted positions of the positives
    thr = int(np.searchsorted(ps, 0.5, side="right"))
    y8 = ys.astype(np.uint8)
    out: dict[str, list[float]] = {name: [] for name in METRICS["binary_classification"]}
    for b in range(counts.shape[0]):
        w = np.take(counts[b], order)
        all_below = np.cumsum(w, dtype=np.int32)  # inclusive
        pos_below = np.cumsum(w * y8, dtype=np.int32)
        total, pos = float(all_below[-1]), float(pos_below[-1])
        neg = total - pos
        tp = pos - (pos_below[thr - 1] if thr else 0)
        fp = neg - ((all_below[thr - 1] - pos_below[thr - 1]) if thr else 0)
        wp = w[at_pos].astype(np.float64)
        neg_below = (all_below[at_pos] - pos_below[at_pos]).astype(np.float64)  # at a positive: < it
        pos_at_or_above = pos - pos_below[at_pos] + wp
        all_at_or_above = total - all_below[at_pos] + wp
        sums = stats @ w.astype(np.float64)
        values = {
            "example_count": total,
            "accuracy": (tp + neg - fp) / total,
            "precision": tp / (tp + fp),
            "recall": tp / pos,
            "f1": 2 * tp / (tp + fp + pos),
            "roc_auc": (wp @ neg_below) / (pos * neg),
            "pr_auc": (wp @ (pos_at_or_above / np.maximum(all_at_or_above, 1))) / pos,
            "log_loss": sums[0] / total,
            "brier": sums[1] / total,
            "expected_calibration_error": np.abs(np.bincount(bins, w * stats[2], ECE_BINS)).sum() / total,
        }
        for name, v in values.items():
            out[name].append(float(v))
    return {name: np.asarray(v) for name, v in out.items()}


def sklearn_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """The scikit-learn reference the metric tests check cd.gates against."""
    from tests.gates.sklearn_reference import sklearn_binary

    return sklearn_binary(y, p)


def sklearn_resample(
    y: np.ndarray, scores: list[np.ndarray], slice_of: np.ndarray, slices: int, counts: np.ndarray
) -> list[list[dict[str, float]]]:
    """Per model: [overall, slice 0..] metric dicts on the resample's materialised rows."""
    rows = np.repeat(np.arange(len(y)), counts)
    in_slice = [rows[slice_of[rows] == k] for k in range(slices)]
    return [[sklearn_metrics(y[r], s[r]) for r in [rows, *in_slice]] for s in scores]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--slices", type=int, default=10)
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    n, slices, resamples = args.rows, args.slices, args.resamples

    y, cand, inc, slice_of = make_data(n, slices)
    scores = [cand, inc]
    groups = [[np.arange(n)], [np.flatnonzero(slice_of == k) for k in range(slices)]]
    print(
        f"gate evaluation: {n:,} rows, {slices} slices + overall, candidate + incumbent, "
        f"{resamples} paired bootstrap resamples, {len(METRICS['binary_classification'])} binary metrics, "
        f"{args.workers} worker thread(s), {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )

    evaluate_ours(y[:1000], [s[:1000] for s in scores], [[np.arange(1000)]], 2, 0, 1)  # warm-up
    start, cpu = time.perf_counter(), time.process_time()
    points, samples = evaluate_ours(y, scores, groups, resamples, args.seed, args.workers)
    ours, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(
        f"cd.gates:        {ours:8.2f} s  (sort/prepare + point estimates + bootstrap; "
        f"{cpu:.2f} s CPU over all threads)"
    )

    # NumPy floor: one model, all rows, single thread, on the same draws; scaled to the same work
    # (2 models x 2 partitions, each covering every row once; one draw per resample) and ideal scaling
    floor_resamples = max(2, min(resamples, 10))
    start = time.perf_counter()
    floor_counts = resample_counts(n, range(floor_resamples), args.seed)
    draw_seconds = (time.perf_counter() - start) / floor_resamples
    start = time.perf_counter()
    numpy_floor(y, cand, floor_counts[:1])
    one = time.perf_counter() - start
    start = time.perf_counter()
    floor_values = numpy_floor(y, cand, floor_counts)
    per_resample = (time.perf_counter() - start - one) / (floor_resamples - 1)
    setup = one - per_resample
    floor_total = 4 * setup + (4 * per_resample + draw_seconds) * resamples
    floor_wall = floor_total / max(1, args.workers)
    check = BinaryKernel(y, cand, [np.arange(n)]).evaluate(floor_counts)
    floor_gap = max(float(np.max(np.abs(check[k][0] - floor_values[k]))) for k in floor_values)
    print(
        f"numpy floor:     {floor_wall:8.2f} s  (hand-written NumPy, one model, all rows, no slices: "
        f"{setup:.2f} s sort/setup + {per_resample * 1e3:.1f} ms per resample, x 4 model-partitions, "
        f"+ {draw_seconds * 1e3:.1f} ms draws per resample; {floor_total:.2f} s on 1 core, "
        f"/ {args.workers} for ideal scaling; agrees with cd.gates to {floor_gap:.1e})"
    )
    print(f"vs floor:        {ours / floor_wall:8.2f} x  (cd.gates wall / ideally scaled floor)")

    tracemalloc.start()
    evaluate_ours(y, scores, groups, min(resamples, 20), args.seed, args.workers)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"peak memory:     {peak / 2**20:8.1f} MiB traced by tracemalloc during evaluation; process max RSS {rss:.0f} MiB"
    )

    # scikit-learn loop: one resample first, to decide whether the full loop fits the budget
    counts = resample_counts(n, range(resamples), args.seed) if resamples else np.zeros((0, n), np.uint8)
    start = time.perf_counter()
    reference = [sklearn_resample(y, scores, slice_of, slices, counts[0])]
    per_resample = time.perf_counter() - start
    start = time.perf_counter()
    reference_points = sklearn_resample(y, scores, slice_of, slices, np.ones(n, np.int64))
    point_seconds = time.perf_counter() - start
    projected = point_seconds + per_resample * resamples
    if projected > SKLEARN_BUDGET_SECONDS:
        done = min(resamples, 3)
        for b in range(1, done):
            reference.append(sklearn_resample(y, scores, slice_of, slices, counts[b]))
        measured = time.perf_counter() - start + per_resample
        sklearn_seconds = point_seconds + (measured - point_seconds) / done * resamples
        how = f"extrapolated from {done} of {resamples} resamples (the full loop would exceed {SKLEARN_BUDGET_SECONDS:.0f} s)"
    else:
        for b in range(1, resamples):
            reference.append(sklearn_resample(y, scores, slice_of, slices, counts[b]))
        sklearn_seconds = time.perf_counter() - start + per_resample
        how = "measured, full loop"
    print(f"scikit-learn:    {sklearn_seconds:8.2f} s  ({how})")
    print(f"speed-up:        {sklearn_seconds / ours:8.1f} x")

    worst = 0.0
    for m in range(2):
        for part, index in ((0, [0]), (1, list(range(slices)))):
            kernel = m * 2 + part
            for g, ref_group in enumerate(index):
                ref_slot = 0 if part == 0 else 1 + ref_group
                for name in METRICS["binary_classification"]:
                    worst = max(worst, abs(points[kernel][name][g, 0] - reference_points[m][ref_slot][name]))
                    for b, ref in enumerate(reference):
                        worst = max(worst, abs(samples[kernel][name][g, b] - ref[m][ref_slot][name]))
    verdict = "identical to 1e-9" if worst <= 1e-9 else "MISMATCH"
    print(
        f"values:          max |cd.gates - sklearn| = {worst:.2e} over point estimates and {len(reference)} resamples ({verdict})"
    )


if __name__ == "__main__":
    main()

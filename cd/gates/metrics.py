"""Metric kernels: every metric of a task, for every slice group, for many resamples at once.

A kernel is prepared once per (model predictions, partition of the rows into groups) and then
evaluated on integer row weights `counts` of shape (B, n): row i counts `counts[b, i]` times in
resample b. The point estimate is `counts = 1`; a bootstrap resample is a draw of counts. One code
path serves both, so point estimates and intervals can never disagree on a definition.

Definitions equal scikit-learn's (checked to 1e-9 in tests):
- binary: labels are predicted positive when the positive-class probability is > 0.5 (what
  `argmax(predict_proba)` does); `pr_auc` is `average_precision_score`; `log_loss` clips
  probabilities to [eps, 1 - eps] like `sklearn.metrics.log_loss`; `expected_calibration_error` uses
  the 10 equal-width bins of `sklearn.calibration.calibration_curve(strategy="uniform")` and weighs
  each bin by its share of rows.
- undefined values are NaN, never a convenient number: precision without predicted positives,
  recall/roc_auc/pr_auc without positives, roc_auc without negatives, r2 of a constant label
  (scikit-learn's `zero_division=np.nan` / `force_finite=False`). The gate fails closed on NaN.

Fast path for ranking metrics: within a group the rows are laid out once as [negatives sorted by
score | positives sorted by score]. ROC AUC (Mann-Whitney with half credit for ties) and average
precision then need only integer prefix sums of the counts, evaluated at the positives.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from cd.errors import GateError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
Counts = NDArray[np.uint8]

DECISION_THRESHOLD = 0.5
ECE_BINS = 10
_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class MetricInfo:
    name: str
    higher_is_better: bool | None  # None: no direction (example_count); no change threshold allowed
    needs_probabilities: bool


def _info(name: str, higher: bool | None, proba: bool = False) -> MetricInfo:
    return MetricInfo(name, higher, proba)


METRICS: Mapping[str, Mapping[str, MetricInfo]] = {
    "binary_classification": {
        m.name: m
        for m in (
            _info("example_count", None),
            _info("accuracy", True),
            _info("precision", True),
            _info("recall", True),
            _info("f1", True),
            _info("roc_auc", True, proba=True),
            _info("pr_auc", True, proba=True),
            _info("log_loss", False, proba=True),
            _info("brier", False, proba=True),
            _info("expected_calibration_error", False, proba=True),
        )
    },
    "multiclass_classification": {
        m.name: m
        for m in (
            _info("example_count", None),
            _info("accuracy", True),
            _info("macro_f1", True),
            _info("weighted_f1", True),
            _info("log_loss", False, proba=True),
        )
    },
    "regression": {
        m.name: m
        for m in (
            _info("example_count", None),
            _info("rmse", False),
            _info("mae", False),
            _info("r2", True),
            _info("mape", False),
        )
    },
}


def metric_info(task: str, name: str) -> MetricInfo:
    """The metric's direction and needs; GateError naming the known metrics if it does not exist."""
    known = METRICS.get(task)
    if known is None:
        raise GateError(f"unknown task {task!r}; known: {', '.join(METRICS)}")
    if name not in known:
        raise GateError(f"unknown metric {name!r} for task {task}; known: {', '.join(known)}")
    return known[name]


class Kernel(Protocol):
    """Prepared metric computation for one model's predictions over one partition of the rows."""

    @property
    def n_groups(self) -> int: ...

    def evaluate(self, counts: Counts) -> dict[str, FloatArray]:
        """counts: (B, n) row weights. Returns metric -> (n_groups, B) values."""
        ...


def _divide(num: FloatArray, den: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(num / den, dtype=np.float64)
    out[den == 0] = np.nan
    return out


_SCRATCH = threading.local()
_BLOCK_COLUMNS = 32768
_RANK_COLUMNS = 16384


def _scratch(name: str, shape: tuple[int, ...], dtype: type[np.generic]) -> NDArray[Any]:
    """A per-thread reusable buffer: big fresh arrays cost page faults on every resample chunk."""
    cache: dict[str, NDArray[Any]] = _SCRATCH.__dict__.setdefault("buffers", {})
    size = int(np.prod(shape))
    buf = cache.get(name)
    if buf is None or buf.dtype != dtype or buf.size < size:
        buf = cache[name] = np.empty(size, dtype)
    return buf[:size].reshape(shape)


_WORDS: dict[int, type[np.unsignedinteger[Any]]] = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _gather(counts: Counts, columns: IntArray) -> Counts:
    """counts[:, columns] into a per-thread buffer. When counts is stored resample-minor (Fortran
    order, as `resample_counts` makes it) with 1, 2, 4 or 8 resamples, each row's counts are one
    machine word: one gather of words, then a transpose, instead of one gather per resample."""
    b = counts.shape[0]
    w = _scratch("layout", (b, len(columns)), np.uint8)
    word = _WORDS.get(b)
    if word is not None and counts.T.flags.c_contiguous:
        gathered = _scratch("gathered", (len(columns),), word)
        np.take(counts.T.view(word).reshape(-1), columns, out=gathered)
        np.copyto(w, gathered.view(np.uint8).reshape(len(columns), b).T)
    else:  # row by row: numpy's 2-D take along axis 1 is several times slower
        for i in range(b):
            np.take(counts[i], columns, out=w[i])
    return w


def _pieces(segments: Sequence[tuple[int, int]], block: int) -> list[tuple[int, int, int]]:
    """(start, end, segment index): the segments cut into pieces of at most `block` columns."""
    return [
        (a, min(end, a + block), i)
        for i, (start, end) in enumerate(segments)
        for a in range(start, end, block)
    ]


def ece_bin_index(p: FloatArray, n_bins: int = ECE_BINS) -> IntArray:
    """Bin of each probability, exactly as `sklearn.calibration.calibration_curve(strategy="uniform")`."""
    edges = np.linspace(0.0, 1.0 + 1e-8, n_bins + 1)
    return np.searchsorted(edges[1:-1], p).astype(np.intp)


# ------------------------------------------------------------------------------------------ binary


def _class_sorted_groups(
    positive: NDArray[np.bool_], scores: FloatArray, groups: Sequence[IntArray]
) -> list[tuple[IntArray, IntArray]]:
    """Per group: (negatives, positives), each ascending by score (ties in any fixed order).

    One float sort for all groups; then a stable sort of small (group, class) keys, which numpy does
    as a radix sort, so a partition with many groups costs little more than the overall one."""
    n = len(scores)
    group_of = np.full(n, -1, np.int64)
    for g, rows in enumerate(groups):
        group_of[np.asarray(rows, dtype=np.intp)] = g
    order = np.argsort(scores)  # ties: any order (rows with equal score and class are interchangeable)
    key = group_of[order] * 2 + positive[order]
    order = order[key >= 0]
    key = key[key >= 0]
    key_type = np.int16 if 2 * len(groups) < np.iinfo(np.int16).max else np.int64
    order = order[np.argsort(key.astype(key_type), kind="stable")]
    bounds = np.r_[0, np.cumsum(np.bincount(key, minlength=2 * len(groups)))]
    return [
        (order[bounds[2 * g] : bounds[2 * g + 1]], order[bounds[2 * g + 1] : bounds[2 * g + 2]])
        for g in range(len(groups))
    ]


class BinaryKernel:
    """All binary metrics for each group of a partition. `scores` is P(positive).

    Layout: for each group, [negatives ascending by score | positives ascending by score]. With Z the
    prefix sums of the counts in that layout (Z[:, 0] = 0), the weight of layout columns [a, b) is
    Z[:, b] - Z[:, a]; every ranking and confusion quantity is such a difference.
    """

    def __init__(self, positive: NDArray[np.bool_], scores: FloatArray, groups: Sequence[IntArray]) -> None:
        positive = np.asarray(positive, dtype=bool)
        scores = np.asarray(scores, dtype=np.float64)
        parts: list[IntArray] = []
        bounds: list[list[int]] = []  # per group: n0, p0, p1, threshold in negs, threshold in pos
        block_start: list[IntArray] = []
        block_end: list[IntArray] = []
        neg_below: list[IntArray] = []
        neg_to: list[IntArray] = []
        self._blocks: list[slice] = []
        segments: list[tuple[int, int, int, int]] = []  # (start, end, group, ece bin)
        at = blocks_at = 0
        for g, (neg, pos) in enumerate(_class_sorted_groups(positive, scores, groups)):
            parts += [neg, pos]
            s_neg, s_pos = scores[neg], scores[pos]
            n0, p0, p1 = at, at + len(neg), at + len(neg) + len(pos)
            starts = (
                np.flatnonzero(np.r_[True, s_pos[1:] != s_pos[:-1]]) if len(pos) else np.zeros(0, np.intp)
            )
            ends = np.r_[starts[1:], len(pos)] if len(pos) else np.zeros(0, np.intp)
            block_start.append(p0 + starts)
            block_end.append(p0 + ends)
            neg_below.append(n0 + np.searchsorted(s_neg, s_pos[starts], side="left"))
            neg_to.append(n0 + np.searchsorted(s_neg, s_pos[starts], side="right"))
            self._blocks.append(slice(blocks_at, blocks_at + len(starts)))
            bounds.append(
                [
                    n0,
                    p0,
                    p1,
                    n0 + int(np.searchsorted(s_neg, DECISION_THRESHOLD, side="right")),
                    p0 + int(np.searchsorted(s_pos, DECISION_THRESHOLD, side="right")),
                ]
            )
            for offset, s in ((n0, s_neg), (p0, s_pos)):
                bins = ece_bin_index(s)
                cuts = np.r_[0, np.flatnonzero(np.diff(bins)) + 1, len(s)]
                for a, b in itertools.pairwise(cuts):
                    if b > a:
                        segments.append((offset + int(a), offset + int(b), g, int(bins[a])))
            at, blocks_at = p1, blocks_at + len(starts)
        self._n_groups = len(bounds)
        self.layout: IntArray = np.concatenate(parts).astype(np.intp) if parts else np.zeros(0, np.intp)
        self._bounds = np.asarray(bounds, dtype=np.intp).reshape(-1, 5)
        cat = lambda xs: np.concatenate(xs).astype(np.intp) if xs else np.zeros(0, np.intp)  # noqa: E731
        self._block_start, self._block_end = cat(block_start), cat(block_end)
        self._neg_below, self._neg_to = cat(neg_below), cat(neg_to)
        self._pos_ties = bool(np.any(self._block_end - self._block_start != 1))
        self._neg_ties = bool(np.any(self._neg_below != self._neg_to))
        if not self._pos_ties:  # not needed without ties: keep only what evaluate reads
            self._block_end = np.zeros(0, np.intp)
        if not self._neg_ties:
            self._neg_to = np.zeros(0, np.intp)
        # linear sums: per (group, ece bin) segment, in pieces of at most _BLOCK_COLUMNS columns
        self._pieces = _pieces([(a, b) for a, b, _, _ in segments], _BLOCK_COLUMNS)
        self._segment_group = np.asarray([g for _, _, g, _ in segments], dtype=np.intp)
        self._segment_bin = np.asarray([bin_ for _, _, _, bin_ in segments], dtype=np.intp)
        # ranking sums: per group, its positive blocks in pieces of at most _RANK_COLUMNS blocks;
        # `contiguous`: one positive per block (no ties), so block starts are a plain column range
        self._rank_pieces = [
            (g, u, min(blocks.stop, u + _RANK_COLUMNS))
            for g, blocks in enumerate(self._blocks)
            for u in range(blocks.start, blocks.stop, _RANK_COLUMNS)
        ]
        s = scores[self.layout]
        y = positive[self.layout]
        # per-row linear statistics in layout order: [log loss, squared error, y - p]
        # (3, n): statistic-major, for the per-resample sum of products in `_linear_sums`
        self._linear = np.empty((3, len(s)))
        p_true = np.where(y, s, 1 - s)  # probability given to the true class
        self._linear[0] = -np.log(np.clip(p_true, _EPS, 1 - _EPS, out=p_true), out=p_true)
        gap = np.subtract(y, s, out=p_true)
        self._linear[2] = gap
        self._linear[1] = np.square(gap, out=gap)

    @property
    def n_groups(self) -> int:
        return self._n_groups

    def evaluate(self, counts: Counts) -> dict[str, FloatArray]:
        b, g_count = counts.shape[0], self._n_groups
        w = _gather(counts, self.layout)
        z = _scratch("prefix", (b, w.shape[1] + 1), np.int32)
        z[:, 0] = 0
        for i in range(b):  # row by row: numpy's cumsum along axis 1 is several times slower
            np.cumsum(w[i], dtype=np.int32, out=z[i, 1:])
        zb = np.take(z, self._bounds, axis=1)  # (b, groups, 5) int32
        at = zb.astype(np.float64)
        n0, p0, p1, neg_thr, pos_thr = (at[:, :, i].T for i in range(5))  # each (groups, b)
        n_total, p_total = p0 - n0, p1 - p0
        total = n_total + p_total
        tp = p1 - pos_thr
        fp = p0 - neg_thr
        pairs, ap_sum = self._ranking_sums(w, z, zb)
        pairs = pairs * (0.5 if self._neg_ties else 1.0) - n0 * p_total
        linear = self._linear_sums(w)  # (segments, b, 3)
        group_linear = np.zeros((g_count, b, 3))
        np.add.at(group_linear, self._segment_group, linear)
        bin_gap = np.zeros((g_count, ECE_BINS, b))
        np.add.at(bin_gap, (self._segment_group, self._segment_bin), linear[:, :, 2])
        fn = p_total - tp
        tn = n_total - fp
        return {
            "example_count": total,
            "accuracy": _divide(tp + tn, total),
            "precision": _divide(tp, tp + fp),
            "recall": _divide(tp, p_total),
            "f1": _divide(2 * tp, 2 * tp + fp + fn),
            "roc_auc": _divide(pairs, p_total * n_total),
            "pr_auc": _divide(ap_sum, p_total),
            "log_loss": _divide(group_linear[:, :, 0], total),
            "brier": _divide(group_linear[:, :, 1], total),
            # bins contiguous and last, so each resample's sum runs the same way whatever b is
            "expected_calibration_error": _divide(
                np.ascontiguousarray(np.abs(bin_gap).transpose(0, 2, 1)).sum(axis=2), total
            ),
        }

    def _ranking_sums(
        self, w: Counts, z: NDArray[np.int32], zb: NDArray[np.int32]
    ) -> tuple[FloatArray, FloatArray]:
        """Per group and resample: sum over positives of (negative weight ranked below) and of
        precision at the positive, each weighted by the positive's count. Integer-exact pairs."""
        b = w.shape[0]
        pairs = np.zeros((self._n_groups, b))
        ap_sum = np.zeros((self._n_groups, b))
        dt: NDArray[Any]
        for g, u0, u1 in self._rank_pieces:
            if self._pos_ties:
                z_start = np.take(z, self._block_start[u0:u1], axis=1)
                dt = np.take(z, self._block_end[u0:u1], axis=1) - z_start
            else:  # block u is the single layout column block_start[u], and they are consecutive
                c0 = int(self._block_start[u0])
                z_start, dt = z[:, c0 : c0 + u1 - u0], w[:, c0 : c0 + u1 - u0]
            z_lo = np.take(z, self._neg_below[u0:u1], axis=1)
            # ties with negatives count half: (below + at-or-below), halved by the caller
            neg_rank = z_lo + np.take(z, self._neg_to[u0:u1], axis=1) if self._neg_ties else z_lo
            pairs[g] += np.einsum("bu,bu->b", dt, neg_rank, dtype=np.float64, casting="unsafe")
            # precision at each positive block: positives / all weight at or above it
            tps = zb[:, g, 2][:, None] - z_start
            at_or_above = tps + (zb[:, g, 1][:, None] - z_lo)
            # nothing at or above means no positives there either (tps = 0): precision 0 / 1 = 0
            precision = np.true_divide(tps, np.maximum(at_or_above, 1, out=at_or_above))
            ap_sum[g] += np.einsum("bu,bu->b", dt, precision, dtype=np.float64, casting="unsafe")
        return pairs, ap_sum

    def _linear_sums(self, w: Counts) -> FloatArray:
        """Per (group, ece bin) segment: counts @ [log loss, squared error, y - p], (segments, b, 3)."""
        out = np.zeros((len(self._segment_group), w.shape[0], 3))
        buf = _scratch("floats", (w.shape[0], _BLOCK_COLUMNS), np.float64)
        for a, e, seg in self._pieces:
            f = buf[:, : e - a]
            np.copyto(f, w[:, a:e], casting="unsafe")
            # einsum sums each resample's row on its own: values do not depend on how many
            # resamples share the call (BLAS matmul may change its blocking, and the last bits)
            out[seg] += np.einsum("bu,ku->bk", f, self._linear[:, a:e])
        return out


# -------------------------------------------------------------------------------------- multiclass


class MulticlassKernel:
    """accuracy, macro/weighted F1 and log loss. `proba` is (n, K); `label` the true class index."""

    def __init__(self, label: IntArray, proba: FloatArray, groups: Sequence[IntArray]) -> None:
        label = np.asarray(label, dtype=np.intp)
        proba = np.asarray(proba, dtype=np.float64)
        self._k = k = proba.shape[1]
        predicted = np.argmax(proba, axis=1)
        p_true = np.clip(proba[np.arange(len(label)), label], _EPS, 1 - _EPS)
        onehot = np.zeros((len(label), k * k + 1), np.float64)
        onehot[np.arange(len(label)), label * k + predicted] = 1.0
        onehot[:, -1] = -np.log(p_true)
        self._groups = [np.asarray(r, dtype=np.intp) for r in groups]
        self._stats = [np.ascontiguousarray(onehot[r]) for r in self._groups]

    @property
    def n_groups(self) -> int:
        return len(self._groups)

    def evaluate(self, counts: Counts) -> dict[str, FloatArray]:
        rows = []
        for group_rows, stats in zip(self._groups, self._stats, strict=True):
            sums = np.take(counts, group_rows, axis=1).astype(np.float64) @ stats
            rows.append(self._from_sums(sums))
        return {name: np.stack([r[name] for r in rows]) for name in METRICS["multiclass_classification"]}

    def _from_sums(self, sums: FloatArray) -> dict[str, FloatArray]:
        k = self._k
        confusion = sums[:, : k * k].reshape(-1, k, k)  # [b, true, predicted]
        total = confusion.sum(axis=(1, 2))
        tp = np.einsum("bkk->bk", confusion)
        support = confusion.sum(axis=2)
        predicted = confusion.sum(axis=1)
        present = (support + predicted) > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            f1 = np.where(present, 2 * tp / (support + predicted), np.nan)
            macro = np.nansum(f1, axis=1) / present.sum(axis=1)
        macro[present.sum(axis=1) == 0] = np.nan
        weighted = _divide(np.nansum(f1 * support, axis=1), support.sum(axis=1))
        return {
            "example_count": total,
            "accuracy": _divide(tp.sum(axis=1), total),
            "macro_f1": macro,
            "weighted_f1": weighted,
            "log_loss": _divide(sums[:, -1], total),
        }


# -------------------------------------------------------------------------------------- regression


class RegressionKernel:
    """rmse, mae, r2 and mape from weighted sums of per-row statistics."""

    def __init__(self, target: FloatArray, predicted: FloatArray, groups: Sequence[IntArray]) -> None:
        target = np.asarray(target, dtype=np.float64)
        predicted = np.asarray(predicted, dtype=np.float64)
        err = target - predicted
        centred = target - target.mean() if len(target) else target  # r2 is shift-invariant
        stats = np.stack(
            [
                np.ones_like(target),
                err**2,
                np.abs(err),
                centred,
                centred**2,
                np.abs(err) / np.maximum(np.abs(target), _EPS),
            ],
            axis=1,
        )
        self._groups = [np.asarray(r, dtype=np.intp) for r in groups]
        self._stats = [np.ascontiguousarray(stats[r]) for r in self._groups]

    @property
    def n_groups(self) -> int:
        return len(self._groups)

    def evaluate(self, counts: Counts) -> dict[str, FloatArray]:
        rows = []
        for group_rows, stats in zip(self._groups, self._stats, strict=True):
            s = np.take(counts, group_rows, axis=1).astype(np.float64) @ stats
            total = s[:, 0]
            ss_tot = s[:, 4] - _divide(s[:, 3] ** 2, total)
            rows.append(
                {
                    "example_count": total,
                    "rmse": np.sqrt(_divide(s[:, 1], total)),
                    "mae": _divide(s[:, 2], total),
                    "r2": 1.0 - _divide(s[:, 1], ss_tot),
                    "mape": _divide(s[:, 5], total),
                }
            )
        return {name: np.stack([r[name] for r in rows]) for name in METRICS["regression"]}


def point_estimates(kernel: Kernel, n_rows: int) -> dict[str, FloatArray]:
    """Every metric for every group on the rows as they are (weight 1 each): metric -> (n_groups,)."""
    values = kernel.evaluate(np.ones((1, n_rows), np.uint8))
    return {name: v[:, 0] for name, v in values.items()}

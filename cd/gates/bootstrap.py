"""Paired bootstrap over rows: the same resamples for candidate and incumbent, for every slice.

Resampling is the Poisson bootstrap TFMA uses: in resample b, row i counts `Poisson(1)` times,
independently. Independent counts can be drawn fast (one 16-bit random number and a table lookup
per row and resample, an inverse-CDF with 2^-16 resolution) and in any order, and a resample is
the same counts for every model and every slice, which is what makes the comparison paired.

Every resample b draws from its own stream `SeedSequence(seed, spawn_key=(b,))`, so results do not
depend on how resamples are chunked or spread over threads: a seed reproduces them exactly.

The gate's intervals are BCa intervals over these resamples (`cd.gates.intervals`);
`percentile_interval` is the plain percentile interval (NaN where any resample is NaN).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.typing import NDArray

from cd.gates.metrics import Counts, FloatArray, Kernel

_TABLE_BITS = 16
_CHUNK_ELEMENTS = 4_000_000  # rows x resamples per chunk: bounds memory (~8 bytes per element per thread)


def _poisson_table() -> NDArray[np.uint8]:
    """uint16 -> Poisson(1) count by inverse CDF (largest remainder rounding of the pmf)."""
    size = 1 << _TABLE_BITS
    pmf = np.array([math.exp(-1.0) / math.factorial(k) for k in range(16)])
    exact = pmf / pmf.sum() * size
    slots = np.floor(exact).astype(np.int64)
    short = size - int(slots.sum())
    slots[np.argsort(-(exact - slots), kind="stable")[:short]] += 1
    return np.repeat(np.arange(len(slots), dtype=np.uint8), slots)


_TABLE = _poisson_table()


def _stream(seed: int, resample: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(resample,))))


def resample_counts(n_rows: int, resamples: range, seed: int) -> Counts:
    """Counts (len(resamples), n_rows) for the given resample numbers.

    Each resample's 16-bit numbers are its stream's raw 64-bit outputs read as little-endian 16-bit
    words (stable across numpy versions and platforms). The array is stored resample-minor (Fortran
    order), so a row's counts in all resamples sit together and kernels can gather them at once."""
    out = np.empty((n_rows, len(resamples)), np.uint8).T
    for i, b in enumerate(resamples):
        raw = _stream(seed, b).bit_generator.random_raw((n_rows + 3) // 4)
        draws = np.asarray(raw, dtype="<u8").view("<u2")[:n_rows]
        out[i] = np.take(_TABLE, draws)
    return out


def _chunks(resamples: int, n_rows: int) -> Iterator[range]:
    size = max(1, min(resamples, _CHUNK_ELEMENTS // max(1, n_rows)))
    for start in range(0, resamples, size):
        yield range(start, min(resamples, start + size))


def bootstrap(
    kernels: Sequence[Kernel], n_rows: int, resamples: int, seed: int, workers: int | None = None
) -> list[dict[str, FloatArray]]:
    """Evaluate every kernel on the same resamples: per kernel, metric -> (n_groups, resamples)."""
    if resamples <= 0:
        return [{} for _ in kernels]

    def run(chunk: range) -> list[dict[str, FloatArray]]:
        counts = resample_counts(n_rows, chunk, seed)
        return [k.evaluate(counts) for k in kernels]

    chunks = list(_chunks(resamples, n_rows))
    workers = workers or min(2, os.cpu_count() or 1)
    if workers > 1 and len(chunks) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(run, chunks))
    else:
        results = [run(c) for c in chunks]
    merged: list[dict[str, FloatArray]] = []
    for k in range(len(kernels)):
        names = results[0][k].keys()
        merged.append({name: np.concatenate([r[k][name] for r in results], axis=1) for name in names})
    return merged


def percentile_interval(samples: FloatArray, confidence: float) -> tuple[FloatArray, FloatArray]:
    """Row-wise percentile interval of (groups, resamples) samples; NaN where any sample is NaN."""
    tail = (1.0 - confidence) / 2.0 * 100.0
    if samples.shape[-1] == 0:
        nan = np.full(samples.shape[:-1], np.nan)
        return nan, nan.copy()
    low, high = np.percentile(samples, [tail, 100.0 - tail], axis=-1)
    bad = np.isnan(samples).any(axis=-1)
    low = np.where(bad, np.nan, low)
    high = np.where(bad, np.nan, high)
    return low, high

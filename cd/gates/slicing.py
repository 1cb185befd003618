"""Slices: partitions of the evaluation rows by a feature, numeric buckets, or crossed features.

Every slice spec partitions all rows (a missing value is its own group), so a row belongs to exactly
one group per spec. Group labels read like `plan=premium`, `tenure_months=[12, 36)` and
`plan=premium, region=eu`; the spec `overall` has the single group `overall`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from cd.config.model import SliceSpec
from cd.errors import GateError

OVERALL = "overall"
MISSING = "<missing>"


@dataclass(frozen=True)
class SliceGroup:
    label: str  # e.g. "plan=premium"
    rows: NDArray[np.intp]

    @property
    def size(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class Partition:
    spec: str  # "overall", or the slice spec's name ("plan", "plan x region")
    groups: tuple[SliceGroup, ...]


def overall(n_rows: int) -> Partition:
    return Partition(OVERALL, (SliceGroup(OVERALL, np.arange(n_rows, dtype=np.intp)),))


def _format_number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def bucket_labels(edges: Sequence[float]) -> list[str]:
    """Labels of the len(edges) + 1 buckets: (-inf, e0), [e0, e1), ..., [e_last, inf)."""
    points = [_format_number(e) for e in edges]
    labels = [f"<{points[0]}"] if points else ["all"]
    labels += [f"[{a}, {b})" for a, b in itertools.pairwise(points)]
    if points:
        labels.append(f">={points[-1]}")
    return labels


def _feature_keys(frame: pd.DataFrame, feature: str, buckets: Mapping[str, Sequence[float]]) -> list[str]:
    if feature not in frame.columns:
        raise GateError(f"slice feature {feature!r} is not a column of the dataset")
    column = frame[feature]
    missing = column.isna().to_numpy()
    if feature in buckets:
        edges = [float(e) for e in buckets[feature]]
        if not pd.api.types.is_numeric_dtype(column):
            raise GateError(f"slice feature {feature!r} has buckets but is not numeric ({column.dtype})")
        labels = bucket_labels(edges)
        index = np.searchsorted(np.asarray(edges), column.to_numpy(dtype=float), side="right")
        keys = [labels[i] for i in index]
    else:
        keys = [str(v) for v in column.tolist()]
    return [f"{feature}={MISSING if m else k}" for k, m in zip(keys, missing, strict=True)]


def partition(frame: pd.DataFrame, spec: SliceSpec) -> Partition:
    """Groups of one slice spec, sorted by label, each with its row indices."""
    per_feature = [_feature_keys(frame, f, spec.buckets) for f in spec.features]
    keys = np.asarray([", ".join(parts) for parts in zip(*per_feature, strict=True)], dtype=object)
    if len(keys) == 0:
        return Partition(spec.name, ())
    labels, inverse = np.unique(keys.astype(str), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(labels) + 1))
    groups = tuple(
        SliceGroup(str(label), order[bounds[i] : bounds[i + 1]].astype(np.intp))
        for i, label in enumerate(labels)
    )
    return Partition(spec.name, groups)


def partitions(frame: pd.DataFrame, specs: Sequence[SliceSpec]) -> list[Partition]:
    """`overall` followed by one partition per slice spec, in the gate's order."""
    return [overall(len(frame)), *(partition(frame, s) for s in specs)]

"""SHAP values for candidate and incumbent on the gate's dataset, where the gate asks for them
(`importance.shap`) and the `shap` package is installed (the `explain` extra).

`shap.explainers.Permutation` does the work, model-agnostic, on the model's own inputs (what a reviewer
reads, not the pipeline's encoded columns), with an independent masker: a hidden feature takes its values
from a fixed sample of background rows. Each row's values add up to its score minus the base value (the
mean score over the background): the explainer's local accuracy. Reported per version: each feature's
mean |SHAP| over the explained rows, and for the candidate's highest-scored rows the features that push
their score most ("why does the churn model flag this customer?"). The cost is bounded: a fixed sample of
rows and of background rows, seeded with the gate's seed, and `PERMUTATIONS` feature orders per row.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cd.errors import GateError

FLAGGED = 3  # the candidate's highest-scored rows explained one by one in reports
REASONS = 3  # features quoted per flagged row
PERMUTATIONS = 5  # feature orders per explained row, each walked forward and back (antithetic)


@dataclass(frozen=True)
class MeanShap:
    feature: str
    mean_abs: float  # mean |SHAP value| over the explained rows


@dataclass(frozen=True)
class Reason:
    feature: str
    value: str  # the row's value of the feature, as text
    shap: float  # how much it moves this row's score from the base value


@dataclass(frozen=True)
class FlaggedRow:
    row: int  # 0-based position in the gate's dataset
    score: float  # the candidate's score
    base: float  # the candidate's mean score over the background rows
    reasons: tuple[Reason, ...]  # largest |SHAP| first


@dataclass(frozen=True)
class ShapSummary:
    rows: int  # rows explained
    background: int
    seed: int
    seconds: float  # wall time of both versions
    candidate: tuple[MeanShap, ...]  # largest first
    incumbent: tuple[MeanShap, ...] | None
    flagged: tuple[FlaggedRow, ...]

    def top(self) -> list[tuple[str, float, float | None]]:
        """(feature, candidate mean |SHAP|, incumbent's) for the candidate's top features, then any the
        incumbent ranks in its top."""
        from cd.gates.importance import side_by_side

        def ranked(rows: tuple[MeanShap, ...]) -> list[tuple[str, float]]:
            return [(m.feature, m.mean_abs) for m in rows]

        return side_by_side(
            ranked(self.candidate), None if self.incumbent is None else ranked(self.incumbent)
        )

    def to_dict(self) -> dict[str, Any]:
        def table(rows: tuple[MeanShap, ...] | None) -> list[dict[str, Any]] | None:
            if rows is None:
                return None
            return [{"feature": m.feature, "mean_abs": round(m.mean_abs, 6)} for m in rows]

        return {
            "rows": self.rows,
            "background": self.background,
            "seed": self.seed,
            "seconds": round(self.seconds, 3),
            "candidate": table(self.candidate),
            "incumbent": table(self.incumbent),
            "flagged": [
                {
                    "row": f.row,
                    "score": round(f.score, 6),
                    "base": round(f.base, 6),
                    "reasons": [
                        {"feature": r.feature, "value": r.value, "shap": round(r.shap, 6)} for r in f.reasons
                    ],
                }
                for f in self.flagged
            ],
        }


def shap_from_dict(data: Mapping[str, Any]) -> ShapSummary:
    def table(rows: Sequence[Mapping[str, Any]] | None) -> tuple[MeanShap, ...] | None:
        if rows is None:
            return None
        return tuple(MeanShap(r["feature"], float(r["mean_abs"])) for r in rows)

    return ShapSummary(
        rows=int(data["rows"]),
        background=int(data["background"]),
        seed=int(data["seed"]),
        seconds=float(data["seconds"]),
        candidate=table(data["candidate"]) or (),
        incumbent=table(data["incumbent"]),
        flagged=tuple(
            FlaggedRow(
                int(f["row"]),
                float(f["score"]),
                float(f["base"]),
                tuple(Reason(r["feature"], str(r["value"]), float(r["shap"])) for r in f["reasons"]),
            )
            for f in data["flagged"]
        ),
    )


# ---------------------------------------------------------------- computing (needs shap)


@dataclass(frozen=True)
class Explained:
    """One version's SHAP values on the explained rows: values[i, j] for row i, feature j."""

    values: NDArray[np.float64]
    base: NDArray[np.float64]  # per row (the same for every row with an independent masker)
    scores: NDArray[np.float64]  # the model's score per row


def explain_rows(
    predict: Callable[[Any], NDArray[np.float64]], rows: Any, background: Any, *, seed: int
) -> Explained:
    """SHAP values of `predict` (frame -> score per row) on `rows`, hiding features with `background`.
    shap's masker works on numbers, so text columns are passed to it as codes and turned back into the
    same values (missing ones too) before the model sees them."""
    shap = _shap()
    import pandas as pd

    names, dtypes = list(rows.columns), rows.dtypes
    values = {  # each text column's values, as the model sees them; a missing value is the last code
        n: np.asarray([*pd.unique(pd.concat([rows[n], background[n]]).dropna()), None], dtype=object)
        for n in names
        if not pd.api.types.is_numeric_dtype(dtypes[n])  # booleans are numbers here: 0.0 and 1.0
    }
    codes = {n: {v: i for i, v in enumerate(known[:-1])} for n, known in values.items()}

    def coded(frame: Any) -> NDArray[np.float64]:
        columns = [frame[n].map(codes[n]).fillna(len(codes[n])) if n in codes else frame[n] for n in names]
        return np.column_stack([np.asarray(c, dtype=np.float64) for c in columns])

    def model(x: NDArray[np.float64]) -> NDArray[np.float64]:
        frame = pd.DataFrame(
            {n: values[n][x[:, j].astype(np.intp)] if n in values else x[:, j] for j, n in enumerate(names)}
        ).astype(dtypes)
        return np.asarray(predict(frame), dtype=np.float64)

    explainer = shap.explainers.Permutation(model, _Background(coded(background)), seed=seed)
    shown = coded(rows)
    # one model call per order: the row with 0..M features shown, each against every background row
    evals = PERMUTATIONS * (2 * len(names) + 1)
    result = explainer(shown, max_evals=evals, batch_size=2 * len(names) + 1, silent=True)
    return Explained(
        np.asarray(result.values, dtype=np.float64),
        np.broadcast_to(np.asarray(result.base_values, dtype=np.float64), (len(rows),)).copy(),
        model(shown),
    )


class _Background:
    """shap's independent masking, by its masker protocol: a hidden feature takes each background row's
    value. shap's own `maskers.Independent` gives the same values (a test compares them) through numba
    code compiled anew in every process: measured, 24.5 s instead of 16.1 s for 100 rows of the churn
    model, both versions."""

    def __init__(self, rows: NDArray[np.float64]) -> None:
        self.rows = rows
        self.shape = rows.shape

    def __call__(self, mask: NDArray[np.bool_], x: NDArray[np.float64]) -> tuple[NDArray[np.float64]]:
        out = self.rows.copy()
        out[:, mask] = x[mask]
        return (out,)


def _shap() -> Any:
    """shap, imported with numba's compiling turned off where nothing has imported numba yet: shap
    compiles its numba functions anew in every process (it keeps no cache), which costs more than it
    saves on a gate's sample (measured on the churn model: 3.7 s to compile, against 0.3 s more
    for 20 rows run as plain Python). Setting NUMBA_DISABLE_JIT=0 keeps numba's compiling."""
    if "numba" not in sys.modules:
        os.environ.setdefault("NUMBA_DISABLE_JIT", "1")
    try:
        import shap
    except ImportError as exc:
        raise GateError(
            "importance.shap needs the shap package, which is not installed: install modelcd's "
            "`explain` extra (pip install 'modelcd[explain]'), or remove importance.shap from the gate"
        ) from exc
    return shap


def _means(names: Sequence[str], explained: Explained) -> tuple[MeanShap, ...]:
    means = np.abs(explained.values).mean(axis=0)
    rows = [MeanShap(n, float(m)) for n, m in zip(names, means, strict=True)]
    return tuple(sorted(rows, key=lambda m: (-m.mean_abs, m.feature)))


def _flagged(rows: Any, picked: NDArray[np.intp], explained: Explained, count: int) -> tuple[FlaggedRow, ...]:
    names = list(rows.columns)
    out = []
    for i in np.argsort(-explained.scores, kind="stable")[:count]:
        order = np.argsort(-np.abs(explained.values[i]), kind="stable")[:REASONS]
        reasons = tuple(Reason(names[j], str(rows.iloc[i, j]), float(explained.values[i, j])) for j in order)
        out.append(FlaggedRow(int(picked[i]), float(explained.scores[i]), float(explained.base[i]), reasons))
    return tuple(out)


def compute_shap(
    candidate: Callable[[Any], NDArray[np.float64]],
    incumbent: Callable[[Any], NDArray[np.float64]] | None,
    features: Any,
    *,
    rows: int,
    background: int,
    seed: int,
) -> ShapSummary:
    """Both versions explained on the same sampled rows, against the same background rows."""
    from cd.gates.importance import sample_rows

    _shap()  # the message before any work
    started = time.perf_counter()
    picked = sample_rows(len(features), rows, seed)
    behind = sample_rows(len(features), background, seed + 1)
    sample = features.iloc[picked].reset_index(drop=True)
    hidden = features.iloc[behind].reset_index(drop=True)
    cand = explain_rows(candidate, sample, hidden, seed=seed)
    inc = explain_rows(incumbent, sample, hidden, seed=seed) if incumbent is not None else None
    names = list(features.columns)
    return ShapSummary(
        rows=len(picked),
        background=len(behind),
        seed=seed,
        seconds=time.perf_counter() - started,
        candidate=_means(names, cand),
        incumbent=None if inc is None else _means(names, inc),
        flagged=_flagged(sample, picked, cand, FLAGGED),
    )

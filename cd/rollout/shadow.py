"""Shadow traffic: the candidate's answer to a copied request compared with stable's. Pure.

Both answers are modelcd's JSON contract (`cd.package.payload.prediction_response`):
`{"predictions": [...], "probabilities": [[...], ...], "classes": [...]}`. Labels (strings, integers,
booleans) are compared for equality; scores (probabilities, or float predictions of a regressor) by
their largest absolute difference. The first row's score is kept per request so the two variants'
score distributions can be compared (Kolmogorov-Smirnov distance).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Comparison:
    labels_differ: bool
    score_difference: float  # largest |candidate - stable| over the scores; 0.0 without scores
    candidate_score: float | None  # the first row's score (its last class probability, or its value)
    stable_score: float | None


def _parse(payload: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("predictions"), list) else None


def _is_score(value: Any) -> bool:
    return isinstance(value, float) and math.isfinite(value)


def _scores(doc: dict[str, Any]) -> list[float]:
    probabilities = doc.get("probabilities")
    if isinstance(probabilities, list):
        return [float(p) for row in probabilities if isinstance(row, list) for p in row if _is_score(p)]
    return [float(p) for p in doc["predictions"] if _is_score(p)]


def _first_score(doc: dict[str, Any]) -> float | None:
    probabilities = doc.get("probabilities")
    if isinstance(probabilities, list) and probabilities and isinstance(probabilities[0], list):
        row = probabilities[0]
        return float(row[-1]) if row and _is_score(row[-1]) else None
    first = doc["predictions"][0] if doc["predictions"] else None
    return float(first) if isinstance(first, float) and math.isfinite(first) else None


def compare(candidate: bytes, stable: bytes) -> Comparison | None:
    """The two answers compared; None when either is not modelcd's prediction JSON."""
    cand, stab = _parse(candidate), _parse(stable)
    if cand is None or stab is None:
        return None
    labels_c = [p for p in cand["predictions"] if not _is_score(p)]
    labels_s = [p for p in stab["predictions"] if not _is_score(p)]
    differ = len(cand["predictions"]) != len(stab["predictions"]) or labels_c != labels_s
    scores_c, scores_s = _scores(cand), _scores(stab)
    if len(scores_c) != len(scores_s):
        differ, difference = True, 0.0
    else:
        difference = max((abs(a - b) for a, b in zip(scores_c, scores_s, strict=True)), default=0.0)
    return Comparison(differ, difference, _first_score(cand), _first_score(stab))


def disagreements(pairs: Sequence[tuple[bool, float]], max_score_difference: float) -> int:
    """Requests whose labels differ or whose scores differ by more than `max_score_difference`."""
    return sum(1 for labels_differ, diff in pairs if labels_differ or diff > max_score_difference)

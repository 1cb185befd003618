"""A feature step with a bug that only online traffic hits, for the demo's v4.

Serving sends a few rows per request; offline evaluation scores the whole test set in one batch. This
step raises on small batches that contain a customer with many support calls (about 14% of single-row
requests), so v4 predicts exactly like v2 in its gate and then fails part of its canary traffic: the
kind of fault only a canary catches.

This file ships inside v4's MLflow model (`code_paths`) as the top-level module `modelcd_demo_fault`,
so the model loads wherever it is served, with or without modelcd installed; it imports nothing of
modelcd.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator, TransformerMixin


class OnlineBatchFault(TransformerMixin, BaseEstimator):
    def __init__(self, max_batch: int = 8, column: str = "support_calls", threshold: int = 4) -> None:
        self.max_batch = max_batch
        self.column = column
        self.threshold = threshold

    def fit(self, x: Any, y: Any = None) -> OnlineBatchFault:
        return self

    def transform(self, x: Any) -> Any:
        if len(x) <= self.max_batch and bool((x[self.column] >= self.threshold).any()):
            raise ValueError(f"{self.column} >= {self.threshold} in an online batch: feature lookup failed")
        return x

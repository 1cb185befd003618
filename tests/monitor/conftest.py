"""Captured traffic for the monitor's tests: real capture records in SageMaker's layout."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cd.config.model import Column
from cd.monitor.capture import Exchange, capture_path, capture_record

ENDPOINT = "demo-staging-churn"
COLUMNS = (
    Column("tenure_months", "integer"),
    Column("monthly_charges", "number"),
    Column("plan", "string"),
    Column("autopay", "boolean"),
)


def customers(n: int, seed: int = 1, charge_shift: float = 0.0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    return [
        {
            "tenure_months": int(rng.integers(1, 72)),
            "monthly_charges": round(float(rng.uniform(20, 120)) + charge_shift, 2),
            "plan": str(rng.choice(["basic", "standard", "premium"])),
            "autopay": bool(rng.random() < 0.5),
        }
        for _ in range(n)
    ]


def answer(p: float) -> bytes:
    return json.dumps(
        {"predictions": [p > 0.5], "probabilities": [[1 - p, p]], "classes": [False, True]}
    ).encode()


def write_capture(
    root: Path,
    rows: Sequence[dict[str, Any]],
    *,
    at: float,
    variant: str = "v2",
    scores: Sequence[float] | None = None,
    extra_lines: Sequence[str] = (),
    name: str = "part",
) -> Path:
    """One capture file of single-row requests, `inference_id` i-<n>, as the router writes them."""
    path = capture_path(root, ENDPOINT, variant, at, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, row in enumerate(rows):
        p = 0.3 if scores is None else scores[i]
        exchange = Exchange(
            ENDPOINT, variant, int(variant[1:]), json.dumps([row]).encode(), "application/json",
            answer(p), "application/json", at, f"i-{i}",
        )  # fmt: skip
        lines.append(json.dumps(capture_record(exchange)))
    path.write_text("\n".join([*lines, *extra_lines]) + "\n")
    return path

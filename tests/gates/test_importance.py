"""Permutation importance: sklearn's own, overall and per slice, shown in the report and the model card."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from cd.gates.importance import Importance, compute_importance, importance_from_dict, rank_auc, top_rows
from cd.gates.report import render_markdown
from cd.gates.slicing import Partition, SliceGroup
from cd.gates.verdict import GateVerdict, load_verdict
from cd.release.inputs import importance_table
from tests.gates.test_verdict_and_report import VERDICT

RNG = np.random.default_rng(5)
N = 3000
FRAME = pd.DataFrame({"a": RNG.normal(size=N), "b": RNG.normal(size=N), "c": RNG.normal(size=N)})
GROUP = RNG.random(N) < 0.5
TRUTH = (
    (FRAME.a * np.where(GROUP, 1.0, 0.1) + FRAME.b * np.where(GROUP, 0.1, 1.0))
    + RNG.normal(scale=0.4, size=N)
) > 0
MODEL = LogisticRegression().fit(FRAME.assign(g=GROUP)[["a", "b", "c"]], TRUTH)
PARTS = [
    Partition("overall", (SliceGroup("overall", np.arange(N)),)),
    Partition("g", (SliceGroup("g=yes", np.flatnonzero(GROUP)), SliceGroup("g=no", np.flatnonzero(~GROUP)))),
]


def scores(X: pd.DataFrame) -> np.ndarray:
    return MODEL.predict_proba(X)[:, 1]


def test_rank_auc_equals_roc_auc_score_with_ties() -> None:
    y = RNG.random(500) < 0.3
    p = np.round(RNG.random(500), 1)  # many ties
    assert rank_auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)


def test_overall_importance_equals_sklearns_permutation_importance() -> None:
    got = compute_importance(
        scores,
        None,
        FRAME,
        TRUTH.to_numpy(),
        PARTS,
        "binary_classification",
        "roc_auc",
        rows=N,
        repeats=4,
        seed=3,
    )
    expected = permutation_importance(MODEL, FRAME, TRUTH, scoring="roc_auc", n_repeats=4, random_state=3)
    by_name = {f.feature: f.mean for f in got.overall().candidate}
    assert [by_name[c] for c in FRAME.columns] == pytest.approx(list(expected.importances_mean), abs=1e-12)


def test_each_slice_gets_its_own_importances_from_the_same_permutations() -> None:
    got = compute_importance(
        scores,
        scores,
        FRAME,
        TRUTH.to_numpy(),
        PARTS,
        "binary_classification",
        "roc_auc",
        rows=N,
        repeats=3,
        seed=1,
    )
    assert [s.slice for s in got.slices] == ["overall", "g=yes", "g=no"]
    yes = {s.slice: s for s in got.slices}["g=yes"]
    rows = np.flatnonzero(GROUP)
    expected = permutation_importance(
        MODEL, FRAME, TRUTH, n_repeats=3, random_state=1,
        scoring=lambda est, X, y: roc_auc_score(y.to_numpy()[rows], est.predict_proba(X)[rows, 1]),
    )  # fmt: skip
    by_name = {f.feature: f.mean for f in yes.candidate}
    assert [by_name[c] for c in FRAME.columns] == pytest.approx(list(expected.importances_mean), abs=1e-12)
    assert yes.shift() == {f: 0.0 for f in by_name}  # the same model on both sides


def test_rows_are_a_fixed_sample_and_small_slices_are_left_out() -> None:
    args = (scores, None, FRAME, TRUTH.to_numpy(), PARTS, "binary_classification", "roc_auc")
    first = compute_importance(*args, rows=500, repeats=2, seed=9, min_rows=300)
    again = compute_importance(*args, rows=500, repeats=2, seed=9, min_rows=300)
    assert first.slices == again.slices and first.rows == 500
    assert [s.slice for s in first.slices] == ["overall"]  # about 250 rows per half: under min_rows


IMPORTANCE = importance_from_dict(
    {
        "metric": "roc_auc", "rows": 2000, "repeats": 3, "seed": 7, "seconds": 1.2,
        "slices": [
            {"slice": "overall", "rows": 2000,
             "candidate": [{"feature": "tenure_months", "mean": 0.23, "std": 0.01}, {"feature": "usage_gb", "mean": -0.001, "std": 0.001}],
             "incumbent": [{"feature": "tenure_months", "mean": 0.22, "std": 0.01}, {"feature": "usage_gb", "mean": 0.04, "std": 0.002}]},
            {"slice": "plan=premium|x", "rows": 300,
             "candidate": [{"feature": "tenure_months", "mean": 0.07, "std": 0.01}],
             "incumbent": [{"feature": "usage_gb", "mean": 0.39, "std": 0.02}]},
        ],
    }
)  # fmt: skip
WITH_IMPORTANCE = GateVerdict(**{**vars(VERDICT), "importance": IMPORTANCE})


def test_the_verdict_keeps_the_importances_and_reads_them_back() -> None:
    assert isinstance(load_verdict(WITH_IMPORTANCE.to_json()).importance, Importance)
    assert load_verdict(WITH_IMPORTANCE.to_json()) == WITH_IMPORTANCE
    assert "importance" not in VERDICT.to_dict()


def test_the_report_shows_the_top_features_the_shift_and_why_a_blocking_slice_differs() -> None:
    md = render_markdown(WITH_IMPORTANCE)
    assert "| tenure_months | 0.2300 | 0.2200 | +0.0100 |" in md
    assert "| usage_gb | -0.0010 | 0.0400 | -0.0410 |" in md
    assert "- **plan=premium\\|x**: candidate leans on tenure_months 0.070; incumbent on usage_gb 0.390" in md
    assert '    x-axis ["tenure_months", "usage_gb"]\n' in md and "(3 repeats, seed 7, 1.2 s)" in md


def test_the_model_card_lists_what_the_version_leans_on() -> None:
    rows = importance_table(WITH_IMPORTANCE.to_dict())
    assert rows == (
        ("tenure_months", "0.2300", "0.2200", "+0.0100"),
        ("usage_gb", "-0.0010", "0.0400", "-0.0410"),
    )
    assert [r.feature for r in top_rows(IMPORTANCE, "plan=premium|x")] == ["tenure_months", "usage_gb"]

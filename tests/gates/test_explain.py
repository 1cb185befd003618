"""SHAP values in the gate, where it asks for them: shap's permutation explainer on the model's own inputs,
local accuracy, the same values as shap's own independent masker (the report: tests/gates/test_end_to_end.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from cd.errors import GateError
from cd.gates.explain import PERMUTATIONS, compute_shap, explain_rows, shap_from_dict
from tests.helpers import PROJECT_ROOT

RNG = np.random.default_rng(11)
N = 600
FRAME = pd.DataFrame(
    {
        "a": RNG.normal(size=N),
        "b": RNG.normal(size=N),
        "plan": RNG.choice(["basic", "premium"], N),
        "unused": RNG.normal(size=N),
        "autopay": RNG.random(N) < 0.5,
    }
)
TRUTH = (FRAME.a + (FRAME.plan == "premium") - 0.5 * FRAME.autopay + RNG.normal(scale=0.5, size=N)) > 0.3
MODEL = Pipeline(
    [
        ("x", ColumnTransformer([("plan", OneHotEncoder(), ["plan"])], remainder="passthrough")),
        ("m", LogisticRegression()),
    ]
).fit(FRAME[["a", "plan", "autopay"]].assign(b=FRAME.b), TRUTH)


def scores(X: pd.DataFrame) -> np.ndarray:
    """The model leans on a, plan and autopay; b it was given with no signal; `unused` it never sees."""
    return MODEL.predict_proba(X[["a", "plan", "autopay", "b"]])[:, 1]


ROWS, BACKGROUND = FRAME.iloc[:12].reset_index(drop=True), FRAME.iloc[100:130].reset_index(drop=True)


def test_each_rows_values_add_up_to_its_score_minus_the_mean_score_over_the_background() -> None:
    got = explain_rows(scores, ROWS, BACKGROUND, seed=0)
    assert got.values.shape == (len(ROWS), FRAME.shape[1])
    np.testing.assert_allclose(got.scores, scores(ROWS), rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.base, scores(BACKGROUND).mean(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.values.sum(axis=1) + got.base, got.scores, rtol=0, atol=1e-9)


def test_the_values_equal_shaps_own_independent_masker_on_the_same_rows() -> None:
    numeric = FRAME.assign(plan=(FRAME.plan == "premium").astype(float), autopay=FRAME.autopay.astype(float))

    def on_numbers(X: Any) -> np.ndarray:
        X = pd.DataFrame(np.asarray(X, dtype=float), columns=FRAME.columns)
        return scores(X.assign(plan=np.where(X.plan > 0.5, "premium", "basic"), autopay=X.autopay > 0.5))

    rows, background = numeric.iloc[:12].to_numpy(), numeric.iloc[100:130].to_numpy()
    evals = PERMUTATIONS * (2 * FRAME.shape[1] + 1)
    expected = shap.explainers.Permutation(
        on_numbers, shap.maskers.Independent(background, max_samples=len(background)), seed=3
    )(rows, max_evals=evals, silent=True)
    got = explain_rows(scores, ROWS, BACKGROUND, seed=3)
    np.testing.assert_allclose(got.values, expected.values, rtol=0, atol=1e-12)


def test_a_feature_the_model_never_reads_gets_no_credit_and_the_ones_it_reads_do() -> None:
    summary = compute_shap(scores, None, FRAME, rows=40, background=20, seed=1)
    means = {m.feature: m.mean_abs for m in summary.candidate}
    assert means["unused"] == 0.0
    assert means["a"] > means["b"] and means["plan"] > 0 and means["autopay"] > 0
    assert summary.candidate[0].feature == "a" and summary.incumbent is None


def test_the_highest_scored_rows_are_explained_by_their_strongest_features() -> None:
    summary = compute_shap(scores, None, FRAME, rows=40, background=20, seed=1)
    flagged = summary.flagged
    assert len(flagged) == 3 and [f.score for f in flagged] == sorted(
        (f.score for f in flagged), reverse=True
    )
    assert flagged[0].score == pytest.approx(float(scores(FRAME.iloc[[flagged[0].row]])[0]), abs=1e-12)
    top = flagged[0].reasons[0]
    assert abs(top.shap) == max(abs(r.shap) for r in flagged[0].reasons)
    assert top.value == str(FRAME.iloc[flagged[0].row][top.feature])


def test_the_same_seed_gives_the_same_values_and_they_survive_the_verdict_json() -> None:
    first = compute_shap(scores, scores, FRAME, rows=20, background=10, seed=4)
    again = compute_shap(scores, scores, FRAME, rows=20, background=10, seed=4)
    assert first.to_dict() | {"seconds": 0} == again.to_dict() | {"seconds": 0}
    assert shap_from_dict(first.to_dict()).to_dict() == first.to_dict()
    assert [m.mean_abs for m in first.candidate] == [m.mean_abs for m in first.incumbent or ()]


def test_without_the_shap_package_the_gate_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "shap", None)  # `import shap` raises ImportError
    with pytest.raises(GateError, match=r"importance.shap needs the shap package.*modelcd\[explain\]"):
        compute_shap(scores, None, FRAME, rows=20, background=10, seed=0)


def test_a_missing_text_value_reaches_the_model_as_missing_not_as_text() -> None:
    seen: list[pd.DataFrame] = []

    def recording(X: pd.DataFrame) -> np.ndarray:
        seen.append(X)
        return scores(X.fillna({"plan": "basic"}))

    rows = ROWS.assign(plan=ROWS.plan.where(ROWS.index % 3 != 0, None))
    got = explain_rows(recording, rows, BACKGROUND, seed=0)
    assert {type(v) for frame in seen for v in frame.plan.dropna()} == {str}
    scored = seen[-1]  # the rows themselves, scored last
    assert scored.plan.isna().sum() == rows.plan.isna().sum() == 4
    np.testing.assert_allclose(got.values.sum(axis=1) + got.base, got.scores, rtol=0, atol=1e-9)


EXPLAIN_IN_A_FRESH_PROCESS = """
import json, sys
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
from cd.gates.explain import explain_rows
rng = np.random.default_rng(0)
X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300), "c": rng.choice(["x", "y"], 300)})
y = X.a + (X.c == "y") + rng.normal(size=300) > 0.5
model = LogisticRegression().fit(X.assign(c=X.c == "y"), y)
got = explain_rows(lambda f: model.predict_proba(f.assign(c=f.c == "y"))[:, 1], X[:8], X[100:120], seed=2)
print(json.dumps({"jit": not sys.modules["numba"].config.DISABLE_JIT, "values": got.values.tolist()}))
"""


def test_shap_runs_without_numbas_compiling_unless_asked_and_gives_the_same_values() -> None:
    def run(**environ: str) -> dict[str, Any]:
        env = {k: v for k, v in os.environ.items() if k != "NUMBA_DISABLE_JIT"} | environ
        done = subprocess.run(
            [sys.executable, "-c", EXPLAIN_IN_A_FRESH_PROCESS],
            cwd=PROJECT_ROOT, env={**env, "PYTHONPATH": str(PROJECT_ROOT)},
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
        return result

    plain, compiled = run(), run(NUMBA_DISABLE_JIT="0")
    assert (plain["jit"], compiled["jit"]) == (False, True)
    np.testing.assert_allclose(plain["values"], compiled["values"], rtol=0, atol=1e-12)

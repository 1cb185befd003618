"""`judge`: the pure evaluation of a gate on prepared predictions, for every task."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cd.config.model import ChangeThreshold, DatasetSpec, Gate, MetricCheck, SliceSpec, ValueThreshold
from cd.gates.evaluate import judge
from cd.gates.scoring import Predictions
from cd.gates.slicing import partitions

RNG = np.random.default_rng(0)
N = 1200
FRAME = pd.DataFrame({"segment": RNG.choice(["a", "b", "c"], N, p=[0.45, 0.45, 0.10])})


def gate(*checks: MetricCheck, **kw: object) -> Gate:
    return Gate(
        model="m",
        dataset=DatasetSpec("data/t.csv", "y", "csv"),
        metrics=checks,
        slices=(SliceSpec("segment", ("segment",)),),
        min_examples=150,
        bootstrap_resamples=50,
        seed=3,
        **kw,  # type: ignore[arg-type]
    )


def test_regression_gate_judges_every_slice_and_skips_small_ones() -> None:
    y = RNG.normal(10, 2, N)
    good = Predictions("regression", y, y + RNG.normal(0, 0.5, N))
    worse = Predictions("regression", y, y + RNG.normal(0, 1.5, N))
    g = gate(MetricCheck("rmse", value=ValueThreshold(max=1.0), change=ChangeThreshold(relative=0.1)))
    checks = judge(g, "regression", partitions(FRAME, g.slices), worse, good, N)
    outcomes = {c.slice: c.outcome for c in checks}
    assert outcomes == {"overall": "fail", "segment=a": "fail", "segment=b": "fail", "segment=c": "skipped"}
    overall = checks[0]
    assert overall.delta is not None and overall.delta.low is not None and overall.delta.low > 0.5


def test_multiclass_gate_passes_an_identical_candidate() -> None:
    y = RNG.integers(0, 3, N)
    proba = RNG.dirichlet([1, 1, 1], N) + 2.0 * np.eye(3)[y]
    proba /= proba.sum(axis=1, keepdims=True)
    same = Predictions("multiclass_classification", y, proba)
    g = gate(MetricCheck("macro_f1", change=ChangeThreshold(absolute=0.0), slices=("overall",)))
    (check,) = judge(g, "multiclass_classification", partitions(FRAME, g.slices), same, same, N)
    assert (check.outcome, check.delta and (check.delta.value, check.delta.low, check.delta.high)) == (
        "pass",
        (0.0, 0.0, 0.0),
    )


def test_first_deploy_with_policy_fail_fails_every_check() -> None:
    y = RNG.random(N) < 0.3
    scores = Predictions("binary_classification", y, np.clip(0.3 + 0.4 * y + RNG.normal(0, 0.2, N), 0, 1))
    g = gate(MetricCheck("roc_auc", value=ValueThreshold(min=0.5)), first_deploy="fail")
    checks = judge(g, "binary_classification", partitions(FRAME, g.slices), scores, None, N)
    assert {c.outcome for c in checks if c.slice != "segment=c"} == {"fail"}
    assert checks[0].reasons == ("no incumbent and the gate's first_deploy policy is `fail`",)


def test_a_slice_group_without_positives_is_undefined_not_a_crash() -> None:
    y = (RNG.random(N) < 0.3) & (FRAME["segment"] != "b").to_numpy()  # segment b: no positives
    scores = np.clip(0.3 + 0.4 * y + RNG.normal(0, 0.2, N), 0, 1)
    model = Predictions("binary_classification", y, scores)
    g = gate(MetricCheck("roc_auc", change=ChangeThreshold(absolute=0.05)))
    checks = judge(g, "binary_classification", partitions(FRAME, g.slices), model, model, N)
    outcomes = {c.slice: c.outcome for c in checks}
    assert outcomes == {
        "overall": "pass",
        "segment=a": "pass",
        "segment=b": "undefined",
        "segment=c": "skipped",
    }
    (c,) = [c for c in checks if c.slice == "segment=b"]
    assert c.reasons == (
        f"roc_auc is undefined on this group: the group's {c.examples} rows have no positives",
    )


def test_undefined_resamples_are_counted_and_point_mode_judges_the_point_value() -> None:
    # 3 positives among 160 rows: the AUC is 1.0, but some resamples draw no positive at all
    y = np.zeros(N, bool)
    y[:3] = True
    scores = np.where(y, 0.9, 0.1)
    model = Predictions("binary_classification", y, scores)
    check = MetricCheck("roc_auc", value=ValueThreshold(min=0.9), slices=("overall",))
    g = gate(check, decision="point", min_positives=0)
    (c,) = judge(g, "binary_classification", partitions(FRAME, g.slices), model, None, N)
    assert c.outcome == "pass"
    assert c.candidate.value == 1.0 and c.candidate.undefined_resamples > 0

"""Slices partition the rows: by a feature, by numeric buckets, and by crossed features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cd.config.model import SliceSpec
from cd.errors import GateError
from cd.gates.slicing import partition, partitions

FRAME = pd.DataFrame(
    {
        "plan": ["basic", "premium", "basic", None, "premium"],
        "tenure": [3, 12, 40, 36, 11.5],
        "region": ["eu", "eu", "us", "us", "us"],
    }
)


def labels_and_rows(spec: SliceSpec) -> dict[str, list[int]]:
    return {g.label: g.rows.tolist() for g in partition(FRAME, spec).groups}


def test_categorical_feature_groups_with_missing_values_as_their_own_group() -> None:
    assert labels_and_rows(SliceSpec("plan", ("plan",))) == {
        "plan=<missing>": [3],
        "plan=basic": [0, 2],
        "plan=premium": [1, 4],
    }


def test_numeric_buckets_are_left_closed() -> None:
    spec = SliceSpec("tenure", ("tenure",), {"tenure": (12.0, 36.0)})
    assert labels_and_rows(spec) == {"tenure=<12": [0, 4], "tenure=>=36": [2, 3], "tenure=[12, 36)": [1]}


def test_crossed_features() -> None:
    spec = SliceSpec("plan x region", ("plan", "region"))
    assert labels_and_rows(spec) == {
        "plan=<missing>, region=us": [3],
        "plan=basic, region=eu": [0],
        "plan=basic, region=us": [2],
        "plan=premium, region=eu": [1],
        "plan=premium, region=us": [4],
    }


def test_partitions_start_with_overall() -> None:
    parts = partitions(FRAME, [SliceSpec("region", ("region",))])
    assert [p.spec for p in parts] == ["overall", "region"]
    assert parts[0].groups[0].rows.tolist() == [0, 1, 2, 3, 4]
    assert sum(g.size for g in parts[1].groups) == len(FRAME)


def test_unknown_slice_feature_is_a_clear_error() -> None:
    with pytest.raises(GateError, match=r"^slice feature 'country' is not a column of the dataset$"):
        partition(FRAME, SliceSpec("country", ("country",)))


def test_buckets_on_a_text_feature_are_a_clear_error() -> None:
    with pytest.raises(GateError, match=r"^slice feature 'plan' has buckets but is not numeric"):
        partition(FRAME, SliceSpec("plan", ("plan",), {"plan": (1.0,)}))


def test_every_row_is_in_exactly_one_group() -> None:
    rows = np.concatenate(
        [g.rows for g in partition(FRAME, SliceSpec("plan x region", ("plan", "region"))).groups]
    )
    assert sorted(rows.tolist()) == list(range(len(FRAME)))

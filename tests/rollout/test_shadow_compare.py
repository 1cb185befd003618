"""A shadow answer compared with the answer the client got."""

from __future__ import annotations

import json

from cd.rollout.shadow import compare, disagreements


def answer(labels: list[object], probabilities: list[list[float]] | None = None) -> bytes:
    doc: dict[str, object] = {"predictions": labels}
    if probabilities is not None:
        doc["probabilities"] = probabilities
        doc["classes"] = [0, 1]
    return json.dumps(doc).encode()


def test_the_same_answer_agrees() -> None:
    c = compare(answer([1], [[0.2, 0.8]]), answer([1], [[0.2, 0.8]]))
    assert c is not None and not c.labels_differ and c.score_difference == 0.0
    assert (c.candidate_score, c.stable_score) == (0.8, 0.8)


def test_a_different_label_disagrees() -> None:
    c = compare(answer([0], [[0.6, 0.4]]), answer([1], [[0.4, 0.6]]))
    assert c is not None and c.labels_differ
    assert abs(c.score_difference - 0.2) < 1e-9


def test_a_score_moved_beyond_the_tolerance_counts_as_a_disagreement() -> None:
    c = compare(answer([1], [[0.45, 0.55]]), answer([1], [[0.1, 0.9]]))
    assert c is not None and not c.labels_differ
    assert disagreements([(c.labels_differ, c.score_difference)], 0.1) == 1
    assert disagreements([(c.labels_differ, c.score_difference)], 0.5) == 0


def test_regression_scores_are_compared_as_scores() -> None:
    c = compare(answer([2.5, 3.0]), answer([2.5, 3.5]))
    assert c is not None and not c.labels_differ and c.score_difference == 0.5


def test_an_answer_that_is_not_prediction_json_cannot_be_compared() -> None:
    assert compare(b"not json", answer([1])) is None
    assert compare(json.dumps({"echo": 1}).encode(), answer([1])) is None


def test_a_different_number_of_rows_disagrees() -> None:
    c = compare(answer([1, 0]), answer([1]))
    assert c is not None and c.labels_differ

"""Data capture: the router's JSON Lines in SageMaker's format, and the reader that parses a window."""

from __future__ import annotations

import errno
import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from cd.monitor.capture import CaptureWriter, Exchange, capture_record
from cd.monitor.window import LocalCapture, read_window
from tests.monitor.conftest import COLUMNS, ENDPOINT, customers, write_capture

NOW = 1_764_600_000.0  # 2025-12-01T14:40:00Z


def exchange(i: int = 0, at: float = NOW) -> Exchange:
    body = json.dumps([customers(1)[0]]).encode()
    return Exchange(
        ENDPOINT, "v2", 2, body, "application/json", b'{"predictions": [1]}', "application/json", at, f"i-{i}"
    )


def test_a_record_has_sagemakers_fields_and_keeps_variant_version_and_inference_id() -> None:
    record = capture_record(exchange(7))
    assert record["captureData"]["endpointInput"]["encoding"] == "JSON"
    assert json.loads(record["captureData"]["endpointInput"]["data"]) == json.loads(exchange().request)
    assert record["captureData"]["endpointOutput"]["data"] == '{"predictions": [1]}'
    meta = record["eventMetadata"]
    assert (meta["inferenceId"], meta["variant"], meta["modelVersion"]) == ("i-7", "v2", 2)
    assert meta["inferenceTime"] == "2025-12-01T14:40:00Z" and record["eventVersion"] == "0"


def test_a_body_neither_json_nor_csv_is_base64_encoded() -> None:
    record = capture_record(
        Exchange(ENDPOINT, "v1", 1, b"\x00\x01", "application/x-npy", b"{}", "application/json", NOW)
    )
    assert record["captureData"]["endpointInput"] == {
        "observedContentType": "application/x-npy", "mode": "INPUT", "data": "AAE=", "encoding": "BASE64",
    }  # fmt: skip


def test_a_full_disk_drops_and_counts_records_and_never_raises(tmp_path: Path) -> None:
    def full(path: Path) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    writer = CaptureWriter(tmp_path, open_file=full)
    for i in range(25):
        writer.offer(exchange(i))
    writer.close()
    assert (writer.counts().written, writer.counts().dropped) == (0, 25)


def test_a_full_queue_drops_instead_of_blocking_the_response(tmp_path: Path) -> None:
    import threading

    gate = threading.Event()

    def slow(path: Path) -> Any:
        gate.wait(5)
        return open(path, "a", encoding="utf-8")

    writer = CaptureWriter(tmp_path, max_queued=3, open_file=slow)
    started = time.perf_counter()
    for i in range(20):
        writer.offer(exchange(i))
    offered = time.perf_counter() - started
    gate.set()
    writer.close()
    counts = writer.counts()
    assert counts.dropped > 0 and counts.written + counts.dropped == 20
    assert offered < 1.0  # offering never waited for the stalled disk


def test_sampling_keeps_the_configured_share(tmp_path: Path) -> None:
    writer = CaptureWriter(tmp_path, sampling_percentage=25, rng=random.Random(3))
    for i in range(2000):
        writer.offer(exchange(i))
    writer.close()
    counts = writer.counts()
    assert counts.written + counts.sampled_out == 2000
    assert 400 < counts.written < 600


def test_the_reader_parses_rows_scores_variants_and_inference_ids(tmp_path: Path) -> None:
    rows = customers(50)
    write_capture(tmp_path, rows, at=NOW, scores=[i / 100 for i in range(50)])
    window = read_window(
        LocalCapture(tmp_path), ENDPOINT, NOW - 3600, NOW + 1, COLUMNS, "binary_classification"
    )
    assert (window.records, window.rows, window.problems.bad_lines) == (50, 50, 0)
    assert window.inputs.to_dict(orient="records") == rows
    assert window.scores.tolist() == [i / 100 for i in range(50)]
    assert set(window.variants) == {"v2"} and window.inference_ids[3] == "i-3"
    assert str(window.inputs["tenure_months"].dtype) == "int64"


def test_a_bad_line_is_counted_with_its_file_and_line_and_the_rest_is_read(tmp_path: Path) -> None:
    path = write_capture(tmp_path, customers(10), at=NOW, extra_lines=["not json", '{"captureData": {}}'])
    window = read_window(
        LocalCapture(tmp_path), ENDPOINT, NOW - 3600, NOW + 1, COLUMNS, "binary_classification"
    )
    assert window.rows == 10 and window.problems.bad_lines == 2
    assert window.problems.examples == [
        f"{path}:11: not JSON",
        f"{path}:12: not a capture record: no 'eventMetadata'",
    ]


def test_a_body_without_a_model_column_is_counted_and_named(tmp_path: Path) -> None:
    rows = customers(5)
    del rows[2]["plan"]
    write_capture(tmp_path, rows, at=NOW)
    window = read_window(
        LocalCapture(tmp_path), ENDPOINT, NOW - 3600, NOW + 1, COLUMNS, "binary_classification"
    )
    assert window.rows == 4 and window.problems.bad_records == 1
    assert "plan" in window.problems.examples[0] and ":3: request body" in window.problems.examples[0]


def test_records_outside_the_window_are_left_out(tmp_path: Path) -> None:
    write_capture(tmp_path, customers(5), at=NOW - 7200, name="old")
    write_capture(tmp_path, customers(3), at=NOW, name="new")
    window = read_window(
        LocalCapture(tmp_path), ENDPOINT, NOW - 600, NOW + 1, COLUMNS, "binary_classification"
    )
    assert window.rows == 3


def test_an_empty_window_reads_as_no_rows(tmp_path: Path) -> None:
    window = read_window(LocalCapture(tmp_path), ENDPOINT, NOW - 600, NOW, COLUMNS, "binary_classification")
    assert (window.rows, window.records) == (0, 0)


@pytest.mark.parametrize("content_type", ["text/csv"])
def test_csv_bodies_are_read_by_the_serving_payload_parser(tmp_path: Path, content_type: str) -> None:
    path = tmp_path / ENDPOINT / "v1" / time.strftime("%Y/%m/%d/%H", time.gmtime(NOW)) / "csv.jsonl"
    path.parent.mkdir(parents=True)
    body = b"12,55.5,basic,true\n30,80.0,premium,false"
    record = capture_record(
        Exchange(
            ENDPOINT,
            "v1",
            1,
            body,
            content_type,
            b'{"probabilities": [[0.9, 0.1], [0.2, 0.8]]}',
            "application/json",
            NOW,
        )
    )
    path.write_text(json.dumps(record) + "\n")
    window = read_window(
        LocalCapture(tmp_path), ENDPOINT, NOW - 60, NOW + 1, COLUMNS, "binary_classification"
    )
    assert window.inputs["plan"].tolist() == ["basic", "premium"]
    assert window.scores.tolist() == [0.1, 0.8] and window.row_in_request.tolist() == [0, 1]


def _csv_capture(root: Path, rows: list[dict[str, Any]], header: bool = False) -> None:
    path = root / ENDPOINT / "v2" / time.strftime("%Y/%m/%d/%H", time.gmtime(NOW)) / "csv.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(0, len(rows), 3):
        batch = rows[i : i + 3]
        text = "\n".join(
            ",".join(
                str(r[c.name]).lower() if isinstance(r[c.name], bool) else str(r[c.name]) for c in COLUMNS
            )
            for r in batch
        )
        if header:
            text = ",".join(c.name for c in COLUMNS) + "\n" + text
        answer = json.dumps({"probabilities": [[0.5, 0.5]] * len(batch)}).encode()
        lines.append(
            json.dumps(
                capture_record(
                    Exchange(
                        ENDPOINT,
                        "v2",
                        2,
                        text.encode(),
                        "text/csv",
                        answer,
                        "application/json",
                        NOW,
                        f"c-{i}",
                    )
                )
            )
        )
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("header", [False, True])
def test_csv_and_json_bodies_of_the_same_rows_read_alike(tmp_path: Path, header: bool) -> None:
    rows = customers(40)
    write_capture(tmp_path / "json", rows, at=NOW)
    _csv_capture(tmp_path / "csv", rows, header=header)
    args = (ENDPOINT, NOW - 60, NOW + 1, COLUMNS, "binary_classification")
    from_json = read_window(LocalCapture(tmp_path / "json"), *args)
    from_csv = read_window(LocalCapture(tmp_path / "csv"), *args)
    assert from_csv.inputs.astype(object).to_dict(orient="records") == from_json.inputs.astype(
        object
    ).to_dict(orient="records")
    assert from_csv.row_in_request.tolist()[:6] == [0, 1, 2, 0, 1, 2] and from_csv.records == 14


def test_a_file_with_no_row_in_the_window_widens_no_type(tmp_path: Path) -> None:
    """Booleans were once read as 1.0/0.0 beside such a file, and every boolean feature drifted."""
    write_capture(tmp_path, customers(5), at=NOW - 300, name="earlier")  # same hour, before the window
    write_capture(tmp_path, customers(3), at=NOW, name="now")
    window = read_window(
        LocalCapture(tmp_path), ENDPOINT, NOW - 200, NOW + 1, COLUMNS, "binary_classification"
    )
    assert window.rows == 3 and str(window.inputs["autopay"].dtype) == "bool"


def test_a_file_read_line_by_line_and_one_read_whole_make_one_typed_window(tmp_path: Path) -> None:
    """A bad line sends its file down the line-by-line path; its rows join the others' with the same types."""
    clean, dirty = customers(6, seed=1), customers(4, seed=2)
    write_capture(tmp_path, clean, at=NOW, name="clean")
    write_capture(tmp_path, dirty, at=NOW, variant="v3", name="dirty", extra_lines=["not json"])
    window = read_window(
        LocalCapture(tmp_path), ENDPOINT, NOW - 60, NOW + 1, COLUMNS, "binary_classification"
    )
    assert (window.rows, window.problems.bad_lines, window.answered) == (10, 1, ("v2", "v3"))
    assert window.inputs.astype(object).to_dict(orient="records") == [*clean, *dirty]
    assert [str(t) for t in window.inputs.dtypes] == ["int64", "float64", "category", "bool"]
    assert window.of_variant("v3").inputs.astype(object).to_dict(orient="records") == dirty


def test_an_outcomes_file_without_the_column_is_refused_naming_it(tmp_path: Path) -> None:
    from cd.errors import MonitorError
    from cd.monitor.run import read_outcomes

    path = tmp_path / "labels.csv"
    path.write_text("inference_id,row\na,0\n")
    with pytest.raises(
        MonitorError, match=rf"^labels {path}: no column churned; it needs `inference_id` and `churned`"
    ):
        read_outcomes(path, "churned")


def test_an_outcome_that_is_not_a_number_is_refused_with_its_line(tmp_path: Path) -> None:
    from cd.errors import MonitorError
    from cd.rollout.experiment_run import _read_outcomes

    path = tmp_path / "outcomes.csv"
    path.write_text("inference_id,retained\na,1\nb,yes\n")
    with pytest.raises(MonitorError, match=rf"^outcomes {path}:3: retained is not a number$"):
        _read_outcomes(path, "retained")

"""Ground truth: labels in SageMaker Model Monitor's format, joined with the capture by inference id, and
read by the canary's live-quality check."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import boto3
import pytest

from cd.config.model import (
    AnalysisPolicy,
    Approvals,
    CaptureConfig,
    Environment,
    GroundTruthConfig,
    LocalTargetConfig,
    ModelDeployment,
    ModelSpec,
    Monitoring,
    RolloutPolicy,
    SetWeight,
)
from cd.monitor.capture import CAPTURE_DIR
from cd.monitor.ground_truth import GROUND_TRUTH_DIR, local_files, misclassified, parse_labels, s3_files
from cd.monitor.window import LocalCapture, Problems, read_window
from cd.rollout.deploy import capture_reader
from tests.monitor.conftest import COLUMNS, ENDPOINT, customers, write_capture

NOW = 1_764_600_000.0  # 2025-12-01T14:40:00Z
HOUR = time.strftime("%Y/%m/%d/%H", time.gmtime(NOW))


def truth_line(event: str, data: str, encoding: str = "CSV") -> str:
    return json.dumps(
        {
            "groundTruthData": {"data": data, "encoding": encoding},
            "eventMetadata": {"eventId": event},
            "eventVersion": "0",
        }
    )


def write_truth(root: Path, lines: list[str], name: str = "labels") -> Path:
    path = root / HOUR / f"{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_labels_are_read_one_per_request_row() -> None:
    files = iter([("f.jsonl", f"{truth_line('i-1', '1')}\n{truth_line('i-2', '0,1')}\n".encode())])
    labels = parse_labels(files, Problems())
    assert labels.to_dict(orient="list") == {
        "inference_id": ["i-1", "i-2", "i-2"], "row": [0, 0, 1], "label": ["1", "0", "1"],
    }  # fmt: skip


def test_base64_labels_and_newline_separated_rows_are_read() -> None:
    data = base64.b64encode(b"true\nfalse").decode()
    labels = parse_labels(iter([("f", truth_line("i-9", data, "BASE64").encode())]), Problems())
    assert labels["label"].tolist() == ["true", "false"] and labels["row"].tolist() == [0, 1]


def test_a_bad_label_line_is_counted_with_its_file_and_line(tmp_path: Path) -> None:
    path = write_truth(tmp_path, [truth_line("i-1", "1"), "not json", '{"groundTruthData": {"data": "1"}}'])
    problems = Problems()
    labels = parse_labels(local_files(tmp_path, NOW - 60, NOW + 1), problems)
    assert len(labels) == 1 and problems.bad_lines == 2
    assert problems.examples == [f"{path}:2: not a ground-truth record", f"{path}:3: no 'eventMetadata'"]


def test_labels_outside_the_hours_asked_for_are_left_out(tmp_path: Path) -> None:
    write_truth(tmp_path, [truth_line("i-1", "1")])
    assert len(parse_labels(local_files(tmp_path, NOW + 7200, NOW + 7300), Problems())) == 0


def test_labels_are_read_from_s3(aws_credentials: None) -> None:
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket="labels", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.put_object(Bucket="labels", Key=f"staging/{HOUR}/a.jsonl", Body=truth_line("i-4", "1").encode())
        s3.put_object(Bucket="labels", Key="staging/elsewhere.jsonl", Body=b"ignored")
        labels = parse_labels(s3_files("s3://labels/staging", s3, NOW - 60, NOW + 1), Problems())
    assert labels["inference_id"].tolist() == ["i-4"]


def test_each_variants_rows_are_joined_with_their_labels(tmp_path: Path) -> None:
    write_capture(tmp_path, customers(4), at=NOW, scores=[0.9, 0.2, 0.7, 0.1], variant="v2")
    window = read_window(
        LocalCapture(tmp_path), ENDPOINT, NOW - 60, NOW + 1, COLUMNS, "binary_classification"
    )
    files = iter([("f", "\n".join(truth_line(f"i-{i}", y) for i, y in enumerate("1001")).encode())])
    labels = parse_labels(files, Problems())
    # predicted 1, 0, 1, 0 against labels 1, 0, 0, 1: rows 2 and 3 are wrong
    assert misclassified(window, "v2", labels, None) == (4, 2)
    assert misclassified(window, "v1", labels, None) == (0, 0)


def test_the_canary_reads_capture_joined_with_the_labels_that_arrived(tmp_path: Path) -> None:
    """deploy's reader, as the controller calls it: the local target's capture and ground-truth dirs."""
    state = tmp_path / ".modelcd" / "local"
    write_capture(state / CAPTURE_DIR, customers(3), at=NOW, scores=[0.9, 0.8, 0.7], variant="v2")
    write_capture(state / CAPTURE_DIR, customers(2), at=NOW, scores=[0.1, 0.2], variant="v1", name="s")
    write_truth(
        state / GROUND_TRUTH_DIR, [truth_line("i-0", "1"), truth_line("i-1", "0"), truth_line("i-2", "0")]
    )
    env = Environment(
        "staging",
        LocalTargetConfig(endpoint_prefix="demo-staging"),
        RolloutPolicy(
            strategy="canary",
            steps=(SetWeight(100),),
            analysis=AnalysisPolicy(max_misclassification_increase=0.02),
        ),
        Approvals(),
        {"churn": ModelDeployment("churn", 2)},
        monitoring=Monitoring(capture=CaptureConfig(), ground_truth=GroundTruthConfig()),
    )
    spec = ModelSpec("churn", "churn", "binary_classification", COLUMNS, ("@a",))
    read = capture_reader(env, spec, tmp_path)
    assert read is not None
    cand, stable = read(ENDPOINT, ("v2", "v1"), NOW - 60, NOW + 1)
    # v2 answered 1, 1, 1 for i-0..i-2 (labels 1, 0, 0); v1's i-0 and i-1 answered 0, 0 (labels 1, 0)
    assert (cand.labelled, cand.misclassified) == (3, 2)
    assert (stable.labelled, stable.misclassified) == (2, 1)
    assert len(cand.scores) == 3


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)

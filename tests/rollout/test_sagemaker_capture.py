"""Data capture on SageMaker: DataCaptureConfig on the endpoint configs modelcd creates, and the monitor
reading what SageMaker writes to S3 (moto, botocore's parameter validation on)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3

from cd.config.model import CaptureConfig
from cd.monitor.capture import Exchange, capture_path, capture_record
from cd.monitor.window import S3Capture, read_window
from cd.rollout.sagemaker import SageMakerEndpoints, config_name
from tests.monitor.conftest import COLUMNS, customers
from tests.rollout.conftest import ENDPOINT, REGION, ROLE, spec
from tests.rollout.moto_sagemaker_ext import EndpointBehaviour

CAPTURE = CaptureConfig(sampling_percentage=40, destination="s3://acme-capture/staging")


def test_endpoint_configs_carry_the_environments_data_capture(aws: EndpointBehaviour) -> None:
    target = SageMakerEndpoints.create(REGION, ROLE, session=boto3.session.Session(), capture=CAPTURE)
    name = target.apply_variants(ENDPOINT, [spec(1)], {"v1": 100.0})
    config = boto3.client("sagemaker", region_name=REGION).describe_endpoint_config(EndpointConfigName=name)
    capture = config["DataCaptureConfig"]
    assert capture["EnableCapture"] is True and capture["InitialSamplingPercentage"] == 40
    assert capture["DestinationS3Uri"] == "s3://acme-capture/staging"
    assert [o["CaptureMode"] for o in capture["CaptureOptions"]] == ["Input", "Output"]
    assert capture["CaptureContentTypeHeader"]["JsonContentTypes"] == ["application/json"]


def test_changing_the_capture_makes_a_new_endpoint_config() -> None:
    weights = {"v1": 100.0}
    plain = config_name(ENDPOINT, [spec(1)], weights)
    assert plain != config_name(ENDPOINT, [spec(1)], weights, capture=CAPTURE)
    assert config_name(ENDPOINT, [spec(1)], weights, capture=CAPTURE) != config_name(
        ENDPOINT, [spec(1)], weights, capture=CaptureConfig(100, CAPTURE.destination)
    )


def test_the_monitor_reads_the_capture_sagemaker_writes_to_s3(aws: EndpointBehaviour) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="acme-capture", CreateBucketConfiguration={"LocationConstraint": REGION})
    now = time.time()
    rows = customers(30)
    lines = []
    for i, row in enumerate(rows):
        record = capture_record(
            Exchange(ENDPOINT, "v1", None, json.dumps([row]).encode(), "application/json",
                     b'{"probabilities": [[0.6, 0.4]]}', "application/json", now - 30, f"i-{i}")
        )  # fmt: skip
        del record["eventMetadata"]["variant"]  # SageMaker's records name neither variant nor version
        lines.append(json.dumps(record))
    key = str(capture_path(Path("staging"), ENDPOINT, "v1", now - 30, "15-22-123-abc"))
    s3.put_object(Bucket="acme-capture", Key=key, Body="\n".join(lines).encode())
    s3.put_object(Bucket="acme-capture", Key=f"staging/{ENDPOINT}/v1/not-a-capture.txt", Body=b"x")
    window = read_window(
        S3Capture(CAPTURE.destination or "", s3), ENDPOINT, now - 600, now, COLUMNS, "binary_classification"
    )
    assert window.rows == 30 and set(window.variants) == {"v1"} and window.versions() == {"v1": 1}
    assert window.inputs.to_dict(orient="records") == rows and window.scores[0] == 0.4

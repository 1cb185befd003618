"""The weighted router: SageMaker runtime wire protocol, weights, target variant, metrics, failures.

Variants are real processes (tests/local/variant_server.py) started through the LocalEndpoints; requests
go through boto3's real `sagemaker-runtime` client or plain HTTP.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cd.rollout.local.router import choose_variant, percentile
from cd.rollout.local.statefile import StateFile
from cd.rollout.local.target import LocalEndpoints
from cd.rollout.target import VariantSpec

ENDPOINT = "modelcd-test-churn"
V1 = VariantSpec(model_version=1, image="fake:ok")


def router_port(state_dir: Path) -> int:
    router = StateFile(state_dir).read().router
    assert router is not None
    return router.port


def runtime_client(state_dir: Path) -> Any:
    return boto3.session.Session().client(
        "sagemaker-runtime",
        endpoint_url=f"http://127.0.0.1:{router_port(state_dir)}",
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=10),
    )


def post(
    conn: http.client.HTTPConnection,
    endpoint: str,
    body: bytes = b"{}",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn.request("POST", f"/endpoints/{endpoint}/invocations", body=body, headers=headers or {})
    response = conn.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def metrics(state_dir: Path, variant: str, start: float, end: float) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", router_port(state_dir), timeout=10)
    conn.request("GET", f"/_modelcd/metrics?endpoint={ENDPOINT}&variant={variant}&start={start}&end={end}")
    data: dict[str, Any] = json.loads(conn.getresponse().read())
    return data["variants"][variant]


def two_variants(target: LocalEndpoints, image2: str, w1: float, w2: float) -> None:
    target.apply_variants(ENDPOINT, [V1, VariantSpec(2, image2)], {"v1": w1, "v2": w2})


# ---------------------------------------------------------------- pure parts


def test_choose_variant_splits_the_unit_interval_by_weight_in_name_order() -> None:
    weights = {"v2": 10.0, "v1": 90.0}
    assert choose_variant(weights, 0.0) == "v1"
    assert choose_variant(weights, 0.8999) == "v1"
    assert choose_variant(weights, 0.9) == "v2"
    assert choose_variant(weights, 0.9999) == "v2"


def test_choose_variant_skips_zero_weights_and_is_none_without_positive_weight() -> None:
    assert choose_variant({"v1": 0.0, "v2": 5.0}, 0.0) == "v2"
    assert choose_variant({"v1": 0.0, "v2": 0.0}, 0.5) is None


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0


# ---------------------------------------------------------------- routing


def test_routing_shares_match_weights_within_a_binomial_bound(
    target: LocalEndpoints, state_dir: Path
) -> None:
    two_variants(target, "fake:ok", 80.0, 20.0)
    n, p = 1000, 0.2
    conn = http.client.HTTPConnection("127.0.0.1", router_port(state_dir), timeout=10)
    invoked = [post(conn, ENDPOINT)[1]["x-amzn-invoked-production-variant"] for _ in range(n)]
    v2 = invoked.count("v2")
    assert invoked.count("v1") + v2 == n
    # 5 standard deviations of Binomial(n, p): fails by chance with probability < 1e-6 (the seed is fixed)
    assert abs(v2 - n * p) <= 5 * math.sqrt(n * p * (1 - p)), v2


def test_a_variant_at_weight_zero_receives_no_traffic(target: LocalEndpoints, state_dir: Path) -> None:
    two_variants(target, "fake:ok", 100.0, 0.0)
    conn = http.client.HTTPConnection("127.0.0.1", router_port(state_dir), timeout=10)
    invoked = {post(conn, ENDPOINT)[1]["x-amzn-invoked-production-variant"] for _ in range(200)}
    assert invoked == {"v1"}


def test_target_variant_header_forces_the_variant_even_at_weight_zero(
    target: LocalEndpoints, state_dir: Path
) -> None:
    two_variants(target, "fake:ok", 100.0, 0.0)
    conn = http.client.HTTPConnection("127.0.0.1", router_port(state_dir), timeout=10)
    replies = [post(conn, ENDPOINT, headers={"X-Amzn-SageMaker-Target-Variant": "v2"}) for _ in range(20)]
    assert {status for status, _, _ in replies} == {200}
    assert {h["x-amzn-invoked-production-variant"] for _, h, _ in replies} == {"v2"}
    assert {json.loads(body)["variant"] for _, _, body in replies} == {"fake:ok"}


def test_weights_are_hot_reloaded_when_the_state_file_changes(
    target: LocalEndpoints, state_dir: Path
) -> None:
    two_variants(target, "fake:ok", 100.0, 0.0)
    conn = http.client.HTTPConnection("127.0.0.1", router_port(state_dir), timeout=10)
    assert post(conn, ENDPOINT)[1]["x-amzn-invoked-production-variant"] == "v1"
    state_file = StateFile(state_dir)

    def flip(state: Any) -> Any:  # written behind the target's back: no reload call to the router
        from dataclasses import replace

        ep = state.endpoint(ENDPOINT)
        variants = {
            "v1": replace(ep.variants["v1"], weight=0.0),
            "v2": replace(ep.variants["v2"], weight=100.0),
        }
        return state.with_endpoint(replace(ep, variants=variants))

    state_file.update(flip)
    invoked = {post(conn, ENDPOINT)[1]["x-amzn-invoked-production-variant"] for _ in range(50)}
    assert invoked == {"v2"}


# ---------------------------------------------------------------- boto3 sagemaker-runtime, unchanged


def test_boto3_invoke_endpoint_returns_body_content_type_and_invoked_variant(
    target: LocalEndpoints, state_dir: Path
) -> None:
    target.apply_variants(ENDPOINT, [V1], {"v1": 100.0})
    response = runtime_client(state_dir).invoke_endpoint(
        EndpointName=ENDPOINT,
        Body=b'[{"tenure": 3}]',
        ContentType="application/json",
        Accept="application/json",
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["InvokedProductionVariant"] == "v1"
    assert response["ContentType"] == "application/json"
    assert json.loads(response["Body"].read()) == {"variant": "fake:ok", "echo": '[{"tenure": 3}]'}


def test_boto3_target_variant_parameter_is_honoured(target: LocalEndpoints, state_dir: Path) -> None:
    two_variants(target, "fake:ok", 100.0, 0.0)
    response = runtime_client(state_dir).invoke_endpoint(
        EndpointName=ENDPOINT, Body=b"{}", TargetVariant="v2"
    )
    assert response["InvokedProductionVariant"] == "v2"


def test_unknown_endpoint_is_a_validation_error_400(target: LocalEndpoints, state_dir: Path) -> None:
    target.apply_variants(ENDPOINT, [V1], {"v1": 100.0})
    with pytest.raises(ClientError) as caught:
        runtime_client(state_dir).invoke_endpoint(EndpointName="no-such-endpoint", Body=b"{}")
    error = caught.value.response
    assert error["Error"] == {
        "Code": "ValidationError",
        "Message": "Endpoint no-such-endpoint of account local not found.",
    }
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_unknown_target_variant_is_a_validation_error_400(target: LocalEndpoints, state_dir: Path) -> None:
    target.apply_variants(ENDPOINT, [V1], {"v1": 100.0})
    with pytest.raises(ClientError) as caught:
        runtime_client(state_dir).invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}", TargetVariant="v9")
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert caught.value.response["Error"]["Message"] == (
        f"The variant v9 does not exist in endpoint {ENDPOINT}; its variants are: v1."
    )


def test_a_model_4xx_is_a_model_error_424_with_the_original_status(
    target: LocalEndpoints, state_dir: Path
) -> None:
    target.apply_variants(ENDPOINT, [VariantSpec(1, "fake:client-error")], {"v1": 100.0})
    client = runtime_client(state_dir)
    with pytest.raises(client.exceptions.ModelError) as caught:
        client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}")
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["Error"]["Code"] == "ModelError"
    assert response["OriginalStatusCode"] == 400
    assert response["OriginalMessage"] == '{"error": "bad input"}'
    assert (
        response["Error"]["Message"]
        == 'Received client error (400) from v1 with message "{"error": "bad input"}".'
    )


# ---------------------------------------------------------------- metrics


def test_per_variant_metrics_count_what_was_sent(target: LocalEndpoints, state_dir: Path) -> None:
    two_variants(target, "fake:errors=0.25", 50.0, 50.0)
    conn = http.client.HTTPConnection("127.0.0.1", router_port(state_dir), timeout=10)
    start = time.time()
    for _ in range(30):
        post(conn, ENDPOINT, headers={"X-Amzn-SageMaker-Target-Variant": "v1"})
    statuses = [post(conn, ENDPOINT, headers={"X-Amzn-SageMaker-Target-Variant": "v2"})[0] for _ in range(40)]
    end = time.time() + 1
    assert statuses.count(424) == 10
    assert metrics(state_dir, "v1", start, end) | {"latency_ms": None} == {
        "invocations": 30,
        "errors_4xx": 0,
        "errors_5xx": 0,
        "latency_ms": None,
    }
    v2 = metrics(state_dir, "v2", start, end)
    assert (v2["invocations"], v2["errors_4xx"], v2["errors_5xx"]) == (40, 0, 10)
    assert set(v2["latency_ms"]) == {"average", "p50", "p90", "p99", "max"}


def test_metrics_record_4xx_separately_from_5xx(target: LocalEndpoints, state_dir: Path) -> None:
    two_variants(target, "fake:client-error", 0.0, 100.0)
    conn = http.client.HTTPConnection("127.0.0.1", router_port(state_dir), timeout=10)
    start = time.time()
    for _ in range(7):
        post(conn, ENDPOINT)
    window = metrics(state_dir, "v2", start, time.time() + 1)
    assert (window["invocations"], window["errors_4xx"], window["errors_5xx"]) == (7, 7, 0)


def test_latency_distribution_reflects_the_variants_service_time(
    target: LocalEndpoints, state_dir: Path
) -> None:
    two_variants(target, "fake:delay=50", 50.0, 50.0)
    conn = http.client.HTTPConnection("127.0.0.1", router_port(state_dir), timeout=10)
    start = time.time()
    for _ in range(10):
        post(conn, ENDPOINT, headers={"X-Amzn-SageMaker-Target-Variant": "v2"})
    latency = metrics(state_dir, "v2", start, time.time() + 1)["latency_ms"]
    assert latency["p50"] >= 50.0  # the server sleeps 50 ms before every answer
    assert latency["average"] >= 50.0
    assert latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]


def test_metrics_window_is_half_open_on_request_time(target: LocalEndpoints, state_dir: Path) -> None:
    target.apply_variants(ENDPOINT, [V1], {"v1": 100.0})
    conn = http.client.HTTPConnection("127.0.0.1", router_port(state_dir), timeout=10)
    t0 = time.time()
    for _ in range(5):
        post(conn, ENDPOINT)
    t1 = time.time()
    for _ in range(3):
        post(conn, ENDPOINT)
    t2 = time.time()
    assert metrics(state_dir, "v1", t0, t1)["invocations"] == 5
    assert metrics(state_dir, "v1", t1, t2)["invocations"] == 3
    assert metrics(state_dir, "v1", t2, t2 + 60) == {
        "invocations": 0,
        "errors_4xx": 0,
        "errors_5xx": 0,
        "latency_ms": None,
    }


def test_target_read_metrics_returns_the_statistic_asked_for(target: LocalEndpoints, state_dir: Path) -> None:
    two_variants(target, "fake:errors=0.5", 0.0, 100.0)
    start = datetime.now(UTC)
    conn = http.client.HTTPConnection("127.0.0.1", router_port(state_dir), timeout=10)
    for _ in range(8):
        post(conn, ENDPOINT)
    end = datetime.fromtimestamp(time.time() + 1, UTC)
    got = target.read_metrics(ENDPOINT, "v2", start, end, "p90")
    raw = metrics(state_dir, "v2", start.timestamp(), end.timestamp())
    assert (got.invocations, got.errors_4xx, got.errors_5xx, got.error_rate) == (8.0, 0.0, 4.0, 0.5)
    assert got.statistic == "p90"
    assert got.latency_ms == raw["latency_ms"]["p90"]
    quiet = target.read_metrics(ENDPOINT, "v1", start, end, "Average")
    assert (quiet.invocations, quiet.latency_ms, quiet.error_rate) == (0.0, None, None)


# ---------------------------------------------------------------- failures are errors, never hangs


def test_a_crashed_variant_is_seen_as_5xx_model_errors(target: LocalEndpoints, state_dir: Path) -> None:
    two_variants(target, "fake:ok", 50.0, 50.0)
    v2 = StateFile(state_dir).read().endpoints[ENDPOINT].variants["v2"]
    os.killpg(v2.process.pid, signal.SIGKILL)
    client = runtime_client(state_dir)
    start = time.time()
    for _ in range(5):
        with pytest.raises(client.exceptions.ModelError) as caught:
            client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}", TargetVariant="v2")
        assert caught.value.response["OriginalStatusCode"] == 0
    window = metrics(state_dir, "v2", start, time.time() + 1)
    assert (window["invocations"], window["errors_5xx"]) == (5, 5)
    observed = target.observe(ENDPOINT)
    assert observed is not None and observed.status == "InService"
    assert observed.failure_reason == f"variant processes not running: v2 (pid {v2.process.pid})"


def test_a_stalling_variant_times_out_as_a_5xx_instead_of_hanging(
    target: LocalEndpoints, state_dir: Path
) -> None:
    two_variants(target, "fake:stall", 100.0, 0.0)  # the router's upstream timeout is 1 s here
    client = runtime_client(state_dir)  # its own read timeout is 10 s: the router must answer first
    start = time.time()
    with pytest.raises(client.exceptions.ModelError) as caught:
        client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}", TargetVariant="v2")
    assert caught.value.response["OriginalStatusCode"] == 0
    assert "timed out" in caught.value.response["Error"]["Message"]
    window = metrics(state_dir, "v2", start, time.time() + 1)
    assert (window["invocations"], window["errors_5xx"]) == (1, 1)
    assert window["latency_ms"]["max"] >= 1000.0


def test_router_answers_ping(target: LocalEndpoints, state_dir: Path) -> None:
    target.apply_variants(ENDPOINT, [V1], {"v1": 100.0})
    conn = http.client.HTTPConnection("127.0.0.1", router_port(state_dir), timeout=10)
    conn.request("GET", "/ping")
    assert conn.getresponse().status == 200

"""The local router captures what it answers, as SageMaker's data capture would, without slowing it."""

from __future__ import annotations

import json
import time
from pathlib import Path

from cd.monitor.capture import CAPTURE_DIR
from cd.rollout.local.target import LocalEndpoints
from cd.rollout.target import VariantSpec
from tests.local.conftest import make_target
from tests.local.test_router import ENDPOINT, V1, metrics, runtime_client


def _records(root: Path, timeout: float = 10.0, want: int = 1) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while True:  # the router writes in the background: poll until the records are there
        records = [
            json.loads(line) for f in sorted(root.rglob("*.jsonl")) for line in f.read_text().splitlines()
        ]
        if len(records) >= want or time.monotonic() > deadline:
            return records
        time.sleep(0.05)


def test_the_router_captures_each_answer_with_variant_version_and_inference_id(state_dir: Path) -> None:
    target: LocalEndpoints = make_target(state_dir, capture_percentage=100)
    target.apply_variants(ENDPOINT, [V1, VariantSpec(2, "fake:ok")], {"v1": 50.0, "v2": 50.0})
    client = runtime_client(state_dir)
    for i in range(20):
        body = json.dumps([{"x": i}]).encode()
        client.invoke_endpoint(
            EndpointName=ENDPOINT, Body=body, ContentType="application/json", InferenceId=f"r-{i}"
        )
    records = _records(state_dir / CAPTURE_DIR / ENDPOINT, want=20)
    assert len(records) == 20
    by_id = {r["eventMetadata"]["inferenceId"]: r for r in records}  # type: ignore[index]
    assert sorted(by_id) == sorted(f"r-{i}" for i in range(20))
    first = by_id["r-3"]
    meta = first["eventMetadata"]
    assert json.loads(first["captureData"]["endpointInput"]["data"]) == [{"x": 3}]  # type: ignore[index]
    assert meta["variant"] in ("v1", "v2") and meta["modelVersion"] == int(meta["variant"][1:])  # type: ignore[index]
    files = {
        p.relative_to(state_dir / CAPTURE_DIR).parts[:2] for p in (state_dir / CAPTURE_DIR).rglob("*.jsonl")
    }
    assert files == {
        (ENDPOINT, "v1"),
        (ENDPOINT, "v2"),
    }  # SageMaker's <endpoint>/<variant>/yyyy/mm/dd/hh layout
    counts = json.loads(json.dumps(metrics_all(state_dir)))["capture"]
    assert counts == {"written": 20, "dropped": 0, "sampled_out": 0}


def metrics_all(state_dir: Path) -> dict[str, object]:
    import http.client

    from tests.local.test_router import router_port

    conn = http.client.HTTPConnection("127.0.0.1", router_port(state_dir), timeout=10)
    conn.request("GET", f"/_modelcd/metrics?endpoint={ENDPOINT}&start=0&end={time.time() + 60}")
    data: dict[str, object] = json.loads(conn.getresponse().read())
    return data


def test_an_endpoint_without_capture_writes_nothing(state_dir: Path) -> None:
    target = make_target(state_dir)
    target.apply_variants(ENDPOINT, [V1], {"v1": 100.0})
    client = runtime_client(state_dir)
    client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"[]", ContentType="application/json")
    assert metrics(state_dir, "v1", 0, time.time() + 60)["invocations"] == 1
    assert not (state_dir / CAPTURE_DIR).exists()


def test_an_unwritable_capture_directory_fails_no_request(state_dir: Path) -> None:
    target = make_target(state_dir, capture_percentage=100)
    target.apply_variants(ENDPOINT, [V1], {"v1": 100.0})
    (state_dir / CAPTURE_DIR).write_text("a file where the directory should be")
    client = runtime_client(state_dir)
    for _ in range(5):
        response = client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"[]", ContentType="application/json")
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    deadline = time.monotonic() + 10
    while metrics_all(state_dir)["capture"]["dropped"] < 5 and time.monotonic() < deadline:  # type: ignore[index]
        time.sleep(0.05)
    assert metrics_all(state_dir)["capture"] == {"written": 0, "dropped": 5, "sampled_out": 0}

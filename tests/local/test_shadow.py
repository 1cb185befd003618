"""Shadow traffic on the local target: real variant processes behind the real mirroring router."""

from __future__ import annotations

import http.client
import time
from datetime import UTC, datetime, timedelta

from cd.rollout.local import processes
from cd.rollout.local.statefile import StateFile
from cd.rollout.local.target import LocalEndpoints
from cd.rollout.target import VariantSpec

EP = "modelcd-staging-churn"


def _send(target: LocalEndpoints, n: int) -> list[tuple[int, str | None, float]]:
    """n requests through the router: (status, variant that answered, seconds it took)."""
    router = StateFile(target.state_file.dir).read().router
    assert router is not None
    conn = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
    out = []
    try:
        for _ in range(n):
            started = time.perf_counter()
            conn.request(
                "POST",
                f"/endpoints/{EP}/invocations",
                body=b"[{}]",
                headers={"Content-Type": "application/json"},
            )
            response = conn.getresponse()
            out.append(
                (
                    response.status,
                    response.getheader("x-Amzn-Invoked-Production-Variant"),
                    time.perf_counter() - started,
                )
            )
            response.read()
    finally:
        conn.close()
    return out


def _shadowed(target: LocalEndpoints, shadow_image: str) -> None:
    target.apply_variants(EP, [VariantSpec(1, "fake:ok")], {"v1": 100.0}, shadow=VariantSpec(2, shadow_image))


def _wait_for_copies(target: LocalEndpoints, variant: str, n: int, start: datetime) -> float:
    deadline = time.monotonic() + 10
    while True:
        seen = target.read_metrics(
            EP, variant, start, datetime.now(UTC) + timedelta(seconds=1), "p99"
        ).invocations
        if seen >= n or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


def test_a_shadow_variant_gets_a_copy_of_every_request_and_answers_no_client(target: LocalEndpoints) -> None:
    _shadowed(target, "fake:ok")
    start = datetime.now(UTC) - timedelta(seconds=1)
    replies = _send(target, 30)
    assert {(status, variant) for status, variant, _ in replies} == {(200, "v1")}
    assert _wait_for_copies(target, "v2", 30, start) == 30
    observed = target.observe(EP)
    assert observed is not None and observed.shadow is not None and observed.shadow.name == "v2"
    assert [v.name for v in observed.variants] == ["v1"]


def test_a_failing_shadow_never_changes_a_response(target: LocalEndpoints) -> None:
    _shadowed(target, "fake:errors=1.0")
    start = datetime.now(UTC) - timedelta(seconds=1)
    assert {status for status, _, _ in _send(target, 20)} == {200}
    assert _wait_for_copies(target, "v2", 20, start) == 20
    metrics = target.read_metrics(EP, "v2", start, datetime.now(UTC) + timedelta(seconds=1), "p99")
    assert metrics.errors_5xx == 20.0


def test_a_stalled_shadow_never_slows_a_response(target: LocalEndpoints) -> None:
    _shadowed(target, "fake:stall")  # the upstream timeout is 1 s
    replies = _send(target, 10)
    assert {status for status, _, _ in replies} == {200}
    assert max(seconds for _, _, seconds in replies) < 0.5


def test_a_client_cannot_ask_for_the_shadow_variant(target: LocalEndpoints) -> None:
    _shadowed(target, "fake:ok")
    router = StateFile(target.state_file.dir).read().router
    assert router is not None
    conn = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
    conn.request(
        "POST",
        f"/endpoints/{EP}/invocations",
        body=b"[{}]",
        headers={"X-Amzn-SageMaker-Target-Variant": "v2"},
    )
    response = conn.getresponse()
    assert response.status == 400 and b"shadow variant" in response.read()
    conn.close()


def test_removing_the_shadow_stops_its_process(target: LocalEndpoints) -> None:
    _shadowed(target, "fake:ok")
    shadow = StateFile(target.state_file.dir).read().endpoints[EP].variants["v2"]
    target.apply_variants(EP, [VariantSpec(1, "fake:ok")], {"v1": 100.0})
    observed = target.observe(EP)
    assert observed is not None and observed.shadow is None
    assert not processes.is_alive(shadow.process)


def test_copies_beyond_the_client_concurrency_are_dropped_and_counted(target: LocalEndpoints) -> None:
    """A shadow slower than stable would pile copies up, and a queued copy's latency measures the queue:
    with one client at a time at most two copies are in flight; the others are dropped and counted."""
    _shadowed(target, "fake:delay=300")
    router = StateFile(target.state_file.dir).read().router
    assert router is not None
    start = datetime.now(UTC) - timedelta(seconds=1)
    replies = _send(target, 12)
    assert max(seconds for _, _, seconds in replies) < 0.2
    time.sleep(0.8)
    from cd.rollout.local.runtime import RouterClient

    data = RouterClient(router.url).metrics(EP, "v2", start.timestamp(), time.time() + 1)
    copied = data["variants"]["v2"]["invocations"]
    assert copied + data["shadow_dropped"] == 12
    assert 1 <= copied <= 4 and data["shadow_dropped"] >= 8

"""Shadow traffic on the local target: real variant processes behind the real mirroring router."""

from __future__ import annotations

import http.client
import time
from datetime import UTC, datetime, timedelta

from cd.rollout.local import processes
from cd.rollout.local.runtime import RouterClient
from cd.rollout.local.statefile import StateFile
from cd.rollout.local.target import LocalEndpoints
from cd.rollout.target import VariantSpec

EP = "modelcd-staging-churn"


def _router_port(target: LocalEndpoints) -> int:
    router = StateFile(target.state_file.dir).read().router
    assert router is not None
    return router.port


def _send(target: LocalEndpoints, n: int) -> list[tuple[int, str | None, float]]:
    """n requests through the router, one at a time: (status, variant that answered, seconds)."""
    conn = http.client.HTTPConnection("127.0.0.1", _router_port(target), timeout=10)
    out = []
    try:
        for _ in range(n):
            started = time.perf_counter()
            conn.request("POST", f"/endpoints/{EP}/invocations", body=b"[{}]")
            response = conn.getresponse()
            variant = response.getheader("x-Amzn-Invoked-Production-Variant")
            response.read()
            out.append((response.status, variant, time.perf_counter() - started))
    finally:
        conn.close()
    return out


def _shadowed(target: LocalEndpoints, shadow_image: str) -> None:
    target.apply_variants(EP, [VariantSpec(1, "fake:ok")], {"v1": 100.0}, shadow=VariantSpec(2, shadow_image))


def _dropped(target: LocalEndpoints) -> int:
    url = f"http://127.0.0.1:{_router_port(target)}"
    return int(RouterClient(url).metrics(EP, "v1", 0.0, time.time() + 1)["shadow_dropped"])


def _copies(target: LocalEndpoints, n: int) -> float:
    """The copies the shadow answered, once each of n was answered or dropped (at most 5 s)."""
    deadline = time.monotonic() + 5
    while True:
        now = datetime.now(UTC) + timedelta(seconds=1)
        seen = target.read_metrics(EP, "v2", now - timedelta(hours=1), now, "p99").invocations
        if seen + _dropped(target) >= n or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


def test_a_shadow_variant_gets_a_copy_of_requests_and_answers_no_client(target: LocalEndpoints) -> None:
    _shadowed(target, "fake:ok")
    replies = _send(target, 30)
    assert {(status, variant) for status, variant, _ in replies} == {(200, "v1")}
    copied = _copies(target, 30)
    assert copied + _dropped(target) == 30 and copied >= 1
    observed = target.observe(EP)
    assert observed is not None and observed.shadow is not None and observed.shadow.name == "v2"
    assert [v.name for v in observed.variants] == ["v1"]


def test_a_failing_shadow_never_changes_a_response(target: LocalEndpoints) -> None:
    _shadowed(target, "fake:errors=1.0")
    assert {status for status, _, _ in _send(target, 20)} == {200}
    copied = _copies(target, 20)
    now = datetime.now(UTC) + timedelta(seconds=1)
    metrics = target.read_metrics(EP, "v2", now - timedelta(hours=1), now, "p99")
    assert copied >= 1 and metrics.errors_5xx == copied


def test_a_stalled_shadow_never_slows_a_response(target: LocalEndpoints) -> None:
    _shadowed(target, "fake:stall")  # the upstream timeout is 1 s
    replies = _send(target, 10)
    assert {status for status, _, _ in replies} == {200}
    assert max(seconds for _, _, seconds in replies) < 0.5


def test_copies_beyond_the_client_concurrency_are_dropped_and_counted(target: LocalEndpoints) -> None:
    """A shadow slower than stable would pile copies up, and a queued copy's latency measures the queue:
    with one client at a time at most two copies are in flight; the others are dropped and counted."""
    _shadowed(target, "fake:delay=300")
    replies = _send(target, 12)
    assert max(seconds for _, _, seconds in replies) < 0.2
    time.sleep(0.8)
    copied, dropped = _copies(target, 12), _dropped(target)
    assert copied + dropped == 12
    assert 1 <= copied <= 5 and dropped >= 7


def test_a_client_cannot_ask_for_the_shadow_variant(target: LocalEndpoints) -> None:
    _shadowed(target, "fake:ok")
    conn = http.client.HTTPConnection("127.0.0.1", _router_port(target), timeout=10)
    headers = {"X-Amzn-SageMaker-Target-Variant": "v2"}
    conn.request("POST", f"/endpoints/{EP}/invocations", body=b"[{}]", headers=headers)
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

"""Overhead of the local router: a variant server called directly vs through the router.

Starts a real stdlib variant server (tests/local/variant_server.py) and the real router process on
loopback, sends N sequential requests both ways (keep-alive, like boto3's pool), then the same through
boto3 `sagemaker-runtime`, and prints latency percentiles and throughput. Asserts nothing.
Usage: python benchmarks/local_router.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cd.rollout.local import runtime  # noqa: E402
from cd.rollout.local.statefile import StateFile  # noqa: E402
from cd.rollout.local.target import LocalEndpoints  # noqa: E402
from cd.rollout.local.traffic import runtime_client  # noqa: E402
from cd.rollout.target import VariantSpec  # noqa: E402

VARIANT_SERVER = ROOT / "tests" / "local" / "variant_server.py"
BODY = b'[{"tenure_months": 3, "monthly_charges": 70.5, "plan": "basic"}]'


def serve(image: str, port: int) -> list[str]:
    return [sys.executable, str(VARIANT_SERVER), "--port", str(port), "--name", image]


def timed(port: int, path: str, n: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        conn.request("POST", path, body=BODY, headers={"Content-Type": "application/json"})
        conn.getresponse().read()
        out.append((time.perf_counter() - t) * 1000)
    return out


def timed_boto3(url: str, endpoint: str, n: int) -> list[float]:
    client = runtime_client(url)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        client.invoke_endpoint(EndpointName=endpoint, Body=BODY, ContentType="application/json")[
            "Body"
        ].read()
        out.append((time.perf_counter() - t) * 1000)
    return out


def report(name: str, ms: list[float]) -> None:
    ordered = sorted(ms)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    print(
        f"{name:<28} n={len(ms):>5}  mean {statistics.fmean(ms):6.2f} ms  p50 {p(0.5):6.2f}  "
        f"p99 {p(0.99):6.2f}  -> {1000 / statistics.fmean(ms):7.0f} req/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    n = parser.parse_args().requests
    state_dir = Path(tempfile.mkdtemp()) / "state"
    try:
        started = time.perf_counter()
        target = LocalEndpoints(state_dir, serve_command=serve, ready_timeout=30)
        target.apply_variants("bench", [VariantSpec(1, "fake:ok")], {"v1": 100.0})
        print(f"router + 1 variant up in {time.perf_counter() - started:.2f} s")
        state = StateFile(state_dir).read()
        assert state.router is not None
        variant_port = state.endpoints["bench"].variants["v1"].port
        timed(variant_port, "/invocations", 100)  # warm up
        timed(state.router.port, "/endpoints/bench/invocations", 100)
        report("variant directly", timed(variant_port, "/invocations", n))
        report("through the router", timed(state.router.port, "/endpoints/bench/invocations", n))
        report("boto3 through the router", timed_boto3(state.router.url, "bench", n))
    finally:
        runtime.down(state_dir)


if __name__ == "__main__":
    main()

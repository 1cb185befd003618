"""The rollout controller driving the local target, with an injected clock and real traffic.

The router runs in this test process (so it can share the injected clock) and is registered in the
state file like a started one; the variants are real processes (tests/local/variant_server.py). While
the controller "sleeps", `LocalTraffic` sends real HTTP requests through the router at a fixed rate;
the router's weights decide which variant serves each, and its metrics are what analysis reads.
"""

from __future__ import annotations

import http.client
import os
import threading
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

from cd.config.model import AnalysisPolicy, RolloutPolicy
from cd.rollout.controller import Controller, RolloutReport, Settings
from cd.rollout.local import processes, runtime
from cd.rollout.local.router import Router, RouterServer, make_server
from cd.rollout.local.statefile import ProcessRef, StateFile
from cd.rollout.local.target import LocalEndpoints
from cd.rollout.target import Target, VariantSpec
from tests.rollout.conftest import FakeClock, canary_steps, churn_desired

from .conftest import make_target

ENDPOINT = "modelcd-staging-churn"

POLICY = AnalysisPolicy(
    min_requests=20,
    # Limits a few dozen requests can show a healthy candidate within (the fake servers of v1 and v2
    # never fail) and a bad one beyond (v3 fails every other request).
    max_error_rate=0.2,
    max_error_rate_increase=0.2,
    # Real sub-millisecond servers on a shared, loaded 2-core box: latency ratios are noise here, and
    # a noisy check would make the path of a rollout (and so the kill points) vary from run to run.
    # Latency detection is tested on the analysis itself (tests/rollout); here errors decide.
    max_latency_ratio=1000.0,
    latency_statistic="p50",
    max_inconclusive=3,
    on_inconclusive="rollback",
)
STEPS = canary_steps(POLICY)

# how each version serves (the fake image's options): v1 and v2 are healthy, v3 fails half its requests
IMAGES = {1: "fake:ok", 2: "fake:ok", 3: "fake:errors=0.5", 4: "fake:ok"}


def spec(version: int) -> VariantSpec:
    return VariantSpec(version, IMAGES[version], "ml.m5.large", 1)


class TrafficClock:
    """The router's clock: the (fake) time at which the request being sent happens."""

    def __init__(self, start: float) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t


@dataclass
class LocalTraffic:
    """`rate` requests per fake second, sent for real through the router, stamped evenly over the interval."""

    port: int
    stamp: TrafficClock
    rate: float = 1.0
    sent: int = 0
    _carry: float = 0.0

    def __call__(self, t0: float, t1: float) -> None:
        wanted = self.rate * (t1 - t0) + self._carry
        n = int(wanted)
        self._carry = wanted - n
        if n == 0:
            return
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            for i in range(n):
                self.stamp.t = t0 + (i + 0.5) * (t1 - t0) / n
                conn.request("POST", f"/endpoints/{ENDPOINT}/invocations", body=b"[{}]")
                conn.getresponse().read()
                self.sent += 1
        finally:
            conn.close()


@dataclass
class LocalWorld:
    state_dir: Path
    target: LocalEndpoints
    clock: FakeClock
    traffic: LocalTraffic
    server: RouterServer
    aliases: list[int] = field(default_factory=list)

    def deploy(
        self,
        version: int,
        *,
        target: Target | None = None,
        owner: str = "run-1",
        policy: RolloutPolicy = STEPS,
        challengers: tuple[int, ...] = (),
    ) -> RolloutReport:
        controller = Controller(
            target or self.target,
            policy,
            clock=self.clock,
            settings=Settings(),
            alias_setter=self.aliases.append,
        )
        return controller.run(churn_desired(ENDPOINT, spec, version, owner, challengers))

    def live(self) -> dict[str, float]:
        """Variant -> weight the router routes by now."""
        routes = runtime.RouterClient(f"http://127.0.0.1:{self.traffic.port}").routes().get(ENDPOINT, {})
        return {name: float(v["weight"]) for name, v in routes.items()}

    def record(self) -> dict[str, str]:
        ep = StateFile(self.state_dir).read().endpoint(ENDPOINT)
        return {} if ep is None else dict(ep.tags)

    def variant_processes_alive(self) -> dict[str, bool]:
        ep = StateFile(self.state_dir).read().endpoint(ENDPOINT)
        assert ep is not None
        return {name: processes.is_alive(v.process) for name, v in ep.variants.items()}

    def registered_variant_pids(self) -> set[int]:
        state = StateFile(self.state_dir).read()
        return {p.process.pid for p in state.processes.values() if p.role == "variant"}


def local_world(state_dir: Path) -> Generator[LocalWorld, None, None]:
    """A state dir with an in-process router on the fake clock; stops everything afterwards."""
    clock = FakeClock()
    stamp = TrafficClock(clock.now())
    state_file = StateFile(state_dir)
    server = make_server(Router(state_file, clock=stamp, seed=11, upstream_timeout=10.0), 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = int(server.server_address[1])
    me = os.getpid()
    runtime.register_router(state_file, port, ProcessRef(me, processes.process_start_time(me)))
    traffic = LocalTraffic(port, stamp)
    clock.listeners.append(traffic)
    try:
        yield LocalWorld(state_dir, make_target(state_dir), clock, traffic, server)
    finally:
        server.shutdown()
        server.server_close()
        runtime.down(state_dir)

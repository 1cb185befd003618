"""How fast does canary analysis catch a bad candidate, and how often does it reject a good one?

Simulated traffic through the REAL controller, decide and analysis code (an in-memory target stands in
for SageMaker; clock and sleep are simulated). Compared on the same traffic with:
- Flagger's defaults: 1-minute interval, threshold 5 failed checks, request-success-rate >= 99 %,
  request-duration p99 <= 500 ms, stepWeight 10 up to maxWeight 50, then promote;
- a SageMaker deployment guardrail: canary 10 % for 5 min then 100 % (2 min bake), auto-rollback on a
  CloudWatch alarm with two 1-minute periods (error rate > 1 %, or p99 latency > 1.5x stable p99).

Prints figures; not a test.  Usage: python benchmarks/canary_detection.py [--runs 200]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cd.config import load_repo
from cd.rollout.controller import Controller, Settings
from cd.rollout.decide import Desired
from cd.rollout.target import ObservedEndpoint, ObservedVariant, VariantMetrics, VariantSpec

STABLE_ERR, BAD_ERR = 0.005, 0.05
LAT_MEDIAN_MS, LAT_SIGMA = 40.0, 0.5  # lognormal model latency; p99 ~ 128 ms
# The template's staging rollout policy (environments/staging.yaml), read the way modelcd reads it.
STEPS = load_repo(Path(__file__).resolve().parent.parent).environments["staging"].rollout
POLICY = STEPS.analysis


@dataclass(frozen=True)
class Candidate:
    name: str
    error_rate: float
    latency_factor: float


GOOD = Candidate("good", STABLE_ERR, 1.0)
BAD_ERRORS = Candidate("bad: 5% errors", BAD_ERR, 1.0)
BAD_LATENCY = Candidate("bad: 2x latency", STABLE_ERR, 2.0)


@dataclass
class Traffic:
    """Per-second traffic for the stable (v1) and candidate (v2) fleets, drawn once per run."""

    rate: float
    candidate: Candidate
    rng: np.random.Generator
    seconds: int = 3600

    def __post_init__(self) -> None:
        n = self.rng.poisson(self.rate, self.seconds)
        self.arrivals = n
        self.u_route = [self.rng.random(k) for k in n]
        self.u_err = [self.rng.random(k) for k in n]
        self.z_lat = [self.rng.standard_normal(k) for k in n]

    def split(self, second: int, weight: float) -> dict[str, tuple[int, int, np.ndarray]]:
        """(requests, errors, latencies) per fleet in one second at candidate weight `weight` (%)."""
        to_cand = self.u_route[second] < weight / 100.0
        out = {}
        for name, mask, err, factor in (
            ("v2", to_cand, self.candidate.error_rate, self.candidate.latency_factor),
            ("v1", ~to_cand, STABLE_ERR, 1.0),
        ):
            errors = int(np.sum(self.u_err[second][mask] < err))
            lat = factor * LAT_MEDIAN_MS * np.exp(LAT_SIGMA * self.z_lat[second][mask])
            out[name] = (int(mask.sum()), errors, lat)
        return out


class SimClock:
    def __init__(self, sim: SimTarget) -> None:
        self.t = 0.0
        self.sim = sim

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        end = self.t + max(0.0, seconds)
        self.sim.advance(self.t, end)
        self.t = end


@dataclass
class SimTarget:
    """An in-memory `Target`: changes apply at once; metrics come from the simulated traffic."""

    traffic: Traffic
    variants: dict[str, float] = field(default_factory=lambda: {"v1": 100.0})
    record: dict[str, str] = field(default_factory=dict)
    log: list[tuple[int, str, int, int, np.ndarray]] = field(default_factory=list)
    candidate_requests: int = 0
    restored_at: float | None = None
    clock: SimClock | None = None  # set once the clock that drives this target exists
    first_traffic_at: float | None = None

    def advance(self, t0: float, t1: float) -> None:
        for s in range(int(t0), min(int(t1), self.traffic.seconds)):
            weight = self.variants.get("v2", 0.0)
            if weight > 0 and self.first_traffic_at is None:
                self.first_traffic_at = float(s)
            for name, (n, e, lat) in self.traffic.split(s, weight).items():
                if n:
                    self.log.append((s, name, n, e, lat))
                    if name == "v2":
                        self.candidate_requests += n

    def observe(self, endpoint: str) -> ObservedEndpoint | None:
        vs = tuple(
            ObservedVariant(n, int(n[1:]), f"img{n}", w, w, "ml.m5.large", 1)
            for n, w in self.variants.items()
        )
        return ObservedEndpoint(endpoint, "InService", "+".join(sorted(self.variants)), vs, dict(self.record))

    def apply_variants(
        self, endpoint: str, variants: Sequence[VariantSpec], weights: Mapping[str, float]
    ) -> str:
        self.variants = {v.name: float(weights.get(v.name, 0.0)) for v in variants}
        return "+".join(sorted(self.variants))

    def set_weights(self, endpoint: str, weights: Mapping[str, float]) -> None:
        self.variants.update({k: float(v) for k, v in weights.items()})
        if weights.get("v2") == 0.0 and self.restored_at is None and self.clock is not None:
            self.restored_at = self.clock.t

    def write_record(self, endpoint: str, record: Mapping[str, str]) -> None:
        self.record.update(record)

    def read_metrics(
        self, endpoint: str, variant: str, start: datetime, end: datetime, statistic: str
    ) -> VariantMetrics:
        t0, t1 = start.timestamp(), end.timestamp()
        rows = [r for r in self.log if r[1] == variant and t0 <= r[0] < t1]
        n = sum(r[2] for r in rows)
        e = sum(r[3] for r in rows)
        lat = np.concatenate([r[4] for r in rows]) if rows else np.array([])
        p99 = float(np.percentile(lat, 99)) if lat.size else None
        return VariantMetrics(float(n), 0.0, float(e), p99, "p99")

    def alarms_in_alarm(self, names: Sequence[str]) -> tuple[str, ...]:
        return ()

    def cleanup(self, endpoint: str, keep: Sequence[VariantSpec]) -> tuple[str, ...]:
        return ()


def run_modelcd(traffic: Traffic) -> tuple[bool, int, float]:
    """(rolled back?, candidate requests before rollback, seconds from first canary traffic to rollback)."""
    sim = SimTarget(traffic)
    sim.record = {}
    clock = SimClock(sim)
    sim.clock = clock
    controller = Controller(sim, STEPS, clock=clock, settings=Settings())
    report = controller.run(Desired("ep", "churn", VariantSpec(2, "img", "ml.m5.large", 1), owner="bench"))
    rolled_back = report.outcome == "rolled_back"
    start = sim.first_traffic_at or 0.0
    return rolled_back, sim.candidate_requests, ((sim.restored_at or clock.t) - start)


def _minute_stats(
    traffic: Traffic, minute: int, weight: float
) -> tuple[dict[str, int], dict[str, int], dict[str, np.ndarray]]:
    n = {"v1": 0, "v2": 0}
    e = {"v1": 0, "v2": 0}
    lat: dict[str, list[np.ndarray]] = {"v1": [], "v2": []}
    for s in range(minute * 60, minute * 60 + 60):
        for name, (k, errs, la) in traffic.split(s, weight).items():
            n[name] += k
            e[name] += errs
            lat[name].append(la)
    return n, e, {k: np.concatenate(v) for k, v in lat.items()}


def run_flagger(traffic: Traffic) -> tuple[bool, int, float]:
    """Flagger defaults: every minute check success rate >= 99 % and p99 <= 500 ms; 5 failures: rollback."""
    weight, failed, served = 10.0, 0, 0
    for minute in range(60):
        n, e, lat = _minute_stats(traffic, minute, weight)
        served += n["v2"]
        ok = n["v2"] > 0 and (1 - e["v2"] / n["v2"]) >= 0.99 and float(np.percentile(lat["v2"], 99)) <= 500.0
        if not ok:
            failed += 1
            if failed >= 5:
                return True, served, 60.0 * (minute + 1)
            continue
        if weight >= 50:
            return False, served, 60.0 * (minute + 1)  # promotion
        weight += 10
    return False, served, 3600.0


def run_guardrail(traffic: Traffic) -> tuple[bool, int, float]:
    """SageMaker canary 10 % for 5 min, then 100 % for a 2-min bake; alarm = 2 breaching 1-min periods."""
    breaching, served = 0, 0
    for minute in range(7):
        weight = 10.0 if minute < 5 else 100.0
        n, e, lat = _minute_stats(traffic, minute, weight)
        served += n["v2"]
        breach = False
        if n["v2"] > 0:
            stable_p99 = float(np.percentile(lat["v1"], 99)) if lat["v1"].size else LAT_MEDIAN_MS * 3.2
            breach = e["v2"] / n["v2"] > 0.01 or float(np.percentile(lat["v2"], 99)) > 1.5 * stable_p99
        breaching = breaching + 1 if breach else 0
        if breaching >= 2:
            return True, served, 60.0 * (minute + 1)
    return False, served, 420.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--rates", type=float, nargs="+", default=[1.0, 10.0, 100.0])
    args = parser.parse_args()
    systems = {"modelcd": run_modelcd, "Flagger defaults": run_flagger, "SageMaker guardrail": run_guardrail}
    started = time.perf_counter()
    print(
        f"{args.runs} runs per cell; stable 0.5% errors; latency lognormal median {LAT_MEDIAN_MS} ms (p99 ~128 ms)"
    )
    print(
        "modelcd policy: staging template (10%/5m, 50%/5m, 100%/2m; min 200 requests, max error 1%, +0.5%, p99 x1.5)\n"
    )
    header = f"{'rate/s':>7} {'candidate':<16} {'system':<20} {'rolled back':>11} {'served by cand. med/p95':>24} {'time to rollback med/p95':>25}"
    print(header)
    print("-" * len(header))
    for rate in args.rates:
        for cand in (BAD_ERRORS, BAD_LATENCY, GOOD):
            results: dict[str, list[tuple[bool, int, float]]] = {k: [] for k in systems}
            for run in range(args.runs):
                for name, fn in systems.items():
                    traffic = Traffic(
                        rate, cand, np.random.default_rng(run * 7919 + int(rate * 13)), seconds=1500
                    )
                    results[name].append(fn(traffic))
            for name, rows in results.items():
                rb = [r for r in rows if r[0]]
                share = len(rb) / len(rows)
                if cand is GOOD or not rb:
                    served = time_s = "-"
                else:
                    s = np.array([r[1] for r in rb])
                    t = np.array([r[2] for r in rb])
                    served = f"{np.median(s):.0f} / {np.percentile(s, 95):.0f}"
                    time_s = f"{np.median(t):.0f}s / {np.percentile(t, 95):.0f}s"
                print(
                    f"{rate:>7g} {cand.name:<16} {name:<20} {100 * share:>10.1f}% {served:>24} {time_s:>25}"
                )
        print()
    print(f"wall time {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()

"""How fast does canary analysis catch a bad candidate, and how often does it reject a good one?

Simulated traffic through the REAL controller, decide and analysis code (an in-memory target stands in
for SageMaker; clock and sleep are simulated), the staging template's rollout policy
(environments/staging.yaml: a shadow step, then 10 % / 50 % / 100 %). Side by side on the same traffic:

- `modelcd`: today's sequential analysis (cd.rollout.analysis), looking every `--look-seconds`
  (60: a CloudWatch minute, as on SageMaker; 1: the local router);
- `modelcd-fixed-horizon`: the analysis and template before it (commit FIXED_HORIZON_COMMIT: Wilson
  bounds at every look, per-step windows, `on_inconclusive: rollback`), run from that commit's own
  code in a subprocess on the same traffic;
- `flagger-defaults`: 1-minute interval, threshold 5 failed checks, request-success-rate >= 99 %,
  request-duration p99 <= 500 ms, stepWeight 10 up to maxWeight 50, then promote;
- `sagemaker-guardrail`: canary 10 % for 5 min then 100 % (2 min bake), auto-rollback on a CloudWatch
  alarm with two 1-minute periods (error rate > 1 %, or p99 latency > 1.5x stable p99).

"Served by candidate" counts requests a client got an answer to from the candidate; shadow copies are
not served. Time to decision runs from the start of the rollout to its rollback, pause or completion.

Prints figures; not a test.  Usage:
    python benchmarks/canary_detection.py [--runs 200] [--rates 1 10 100] [--look-seconds 60] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cd.config import load_repo  # noqa: E402
from cd.config.model import NativeTraffic  # noqa: E402
from cd.rollout.controller import Controller, Settings  # noqa: E402
from cd.rollout.decide import Desired, Timing  # noqa: E402
from cd.rollout.target import (  # noqa: E402
    ObservedEndpoint,
    ObservedVariant,
    VariantMetrics,
    VariantSpec,
)

FIXED_HORIZON_COMMIT = "d4a78c0"  # the last commit with the fixed-horizon analysis
SECONDS = 3600
STABLE_ERR, BAD_ERR = 0.005, 0.05
LAT_MEDIAN_MS, LAT_SIGMA = 40.0, 0.5  # lognormal model latency; p99 ~ 128 ms
POLICY = load_repo(ROOT).environments["staging"].rollout


@dataclass(frozen=True)
class Candidate:
    name: str
    error_rate: float
    latency_factor: float


CANDIDATES = {
    "good": Candidate("good", STABLE_ERR, 1.0),
    "bad-errors": Candidate("bad-errors", BAD_ERR, 1.0),
    "bad-latency": Candidate("bad-latency", STABLE_ERR, 2.0),
}


def seed_of(run: int, rate: float) -> int:
    return run * 7919 + int(rate * 13)  # the fixed-horizon benchmark's seeds: the same traffic


@dataclass
class Traffic:
    """Per-second traffic for the stable (v1) and candidate (v2) fleets, drawn once per run. The draws
    and their order are the fixed-horizon benchmark's, so both analyses see the same requests."""

    rate: float
    candidate: Candidate
    rng: np.random.Generator
    seconds: int = SECONDS

    def __post_init__(self) -> None:
        n = self.rng.poisson(self.rate, self.seconds)
        self.arrivals = n
        self.u_route = [self.rng.random(k) for k in n]
        self.u_err = [self.rng.random(k) for k in n]
        self.z_lat = [self.rng.standard_normal(k) for k in n]

    def second(self, s: int, weight: float, shadow: bool) -> dict[str, tuple[int, int, np.ndarray]]:
        """(requests, errors, latencies) per fleet in second `s` at candidate weight `weight` (%);
        with `shadow`, stable answers all and the candidate gets a copy of each request."""
        to_cand = self.u_route[s] < weight / 100.0
        out = {}
        for name, mask, err, factor in (
            (
                "v2",
                np.ones_like(to_cand) if shadow else to_cand,
                self.candidate.error_rate,
                self.candidate.latency_factor,
            ),
            ("v1", np.ones_like(to_cand) if shadow else ~to_cand, STABLE_ERR, 1.0),
        ):
            errors = int(np.sum(self.u_err[s][mask] < err))
            lat = factor * LAT_MEDIAN_MS * np.exp(LAT_SIGMA * self.z_lat[s][mask])
            out[name] = (int(mask.sum()), errors, lat)
        return out


@dataclass
class Fleet:
    """One variant's cumulative counts per second, and its latencies sorted (merged lazily)."""

    requests: list[int] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)
    ordered: np.ndarray = field(default_factory=lambda: np.array([]))
    pending: list[np.ndarray] = field(default_factory=list)

    def add(self, n: int, e: int, lat: np.ndarray) -> None:
        self.requests.append((self.requests[-1] if self.requests else 0) + n)
        self.errors.append((self.errors[-1] if self.errors else 0) + e)
        if n:
            self.pending.append(lat)

    def latencies(self) -> np.ndarray:
        if self.pending:
            fresh = np.sort(np.concatenate(self.pending))
            self.ordered = np.sort(np.concatenate([self.ordered, fresh]), kind="stable")
            self.pending = []
        return self.ordered


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
    look_seconds: float
    variants: dict[str, float] = field(default_factory=lambda: {"v1": 100.0})
    shadow: str | None = None
    record: dict[str, str] = field(default_factory=dict)
    fleets: dict[str, Fleet] = field(default_factory=lambda: {"v1": Fleet(), "v2": Fleet()})
    served_by_candidate: int = 0
    clock: SimClock | None = None
    decided_at: float | None = None
    simulated_to: int = 0

    def advance(self, t0: float, t1: float) -> None:
        for s in range(self.simulated_to, min(int(t1), self.traffic.seconds)):
            weight = self.variants.get("v2", 0.0)
            shadow = self.shadow == "v2"
            for name, (n, e, lat) in self.traffic.second(s, weight, shadow).items():
                self.fleets[name].add(n, e, lat)
                if name == "v2" and not shadow:
                    self.served_by_candidate += n
            self.simulated_to = s + 1

    def observe(self, endpoint: str) -> ObservedEndpoint | None:
        vs = tuple(
            ObservedVariant(n, int(n[1:]), f"img{n}", w, w, "ml.m5.large", 1)
            for n, w in self.variants.items()
        )
        shadow = ObservedVariant(self.shadow, 2, "imgv2", 0, 0, "ml.m5.large", 1) if self.shadow else None
        return ObservedEndpoint(
            endpoint, "InService", "+".join(sorted(self.variants)), vs, dict(self.record), "", shadow
        )

    def apply_variants(
        self,
        endpoint: str,
        variants: Sequence[VariantSpec],
        weights: Mapping[str, float],
        shadow: VariantSpec | None = None,
        traffic: NativeTraffic | None = None,
    ) -> str:
        self.variants = {v.name: float(weights.get(v.name, 0.0)) for v in variants}
        self.shadow = shadow.name if shadow is not None else None
        if "v2" not in self.variants and self.shadow is None:
            self._decided()
        return "+".join(sorted(self.variants))

    def set_weights(self, endpoint: str, weights: Mapping[str, float]) -> None:
        self.variants.update({k: float(v) for k, v in weights.items()})
        if weights.get("v2") == 0.0:
            self._decided()

    def _decided(self) -> None:
        if self.decided_at is None and self.clock is not None:
            self.decided_at = self.clock.t

    def write_record(
        self, endpoint: str, record: Mapping[str, str], *, expect_revision: str | None = None
    ) -> None:
        self.record.update(record)  # one writer: the compare-and-set cannot fail

    def read_metrics(
        self, endpoint: str, variant: str, start: datetime, end: datetime, statistic: str
    ) -> VariantMetrics:
        fleet = self.fleets[variant]
        assert start.timestamp() <= 0.0, "the rollout's window starts at its start"
        if not fleet.requests:
            return VariantMetrics(0.0, 0.0, 0.0, None, "p99", latencies_ms=())
        lat = fleet.latencies()
        p99 = float(lat[int(0.99 * (lat.size - 1))]) if lat.size else None
        return VariantMetrics(
            float(fleet.requests[-1]),
            0.0,
            float(fleet.errors[-1]),
            p99,
            "p99",
            latencies_ms=lat,  # type: ignore[arg-type]  # ascending, indexable: all the test reads
        )

    def alarms_in_alarm(self, names: Sequence[str]) -> tuple[str, ...]:
        return ()

    def cleanup(self, endpoint: str, keep: Sequence[VariantSpec]) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class Run:
    rolled_back: bool
    paused: bool
    served: int  # requests the candidate answered before the decision
    decided_s: float  # from the rollout's start to its rollback, pause or completion


def run_modelcd(traffic: Traffic, look_seconds: float) -> Run:
    sim = SimTarget(traffic, look_seconds)
    clock = SimClock(sim)
    sim.clock = clock
    settings = Settings(timing=Timing(look_seconds=look_seconds))
    controller = Controller(sim, POLICY, clock=clock, settings=settings)
    report = controller.run(Desired("ep", "churn", VariantSpec(2, "img", "ml.m5.large", 1), owner="bench"))
    decided = sim.decided_at if report.outcome == "rolled_back" and sim.decided_at is not None else clock.t
    return Run(report.outcome == "rolled_back", report.outcome == "paused", sim.served_by_candidate, decided)


def _minute_stats(
    traffic: Traffic, minute: int, weight: float
) -> tuple[dict[str, int], dict[str, int], dict[str, np.ndarray]]:
    n = {"v1": 0, "v2": 0}
    e = {"v1": 0, "v2": 0}
    lat: dict[str, list[np.ndarray]] = {"v1": [], "v2": []}
    for s in range(minute * 60, minute * 60 + 60):
        for name, (k, errs, la) in traffic.second(s, weight, False).items():
            n[name] += k
            e[name] += errs
            lat[name].append(la)
    return n, e, {k: np.concatenate(v) for k, v in lat.items()}


def run_flagger(traffic: Traffic, look_seconds: float) -> Run:
    """Flagger defaults: every minute check success rate >= 99 % and p99 <= 500 ms; 5 failures: rollback."""
    weight, failed, served = 10.0, 0, 0
    for minute in range(60):
        n, e, lat = _minute_stats(traffic, minute, weight)
        served += n["v2"]
        ok = n["v2"] > 0 and (1 - e["v2"] / n["v2"]) >= 0.99 and float(np.percentile(lat["v2"], 99)) <= 500.0
        if not ok:
            failed += 1
            if failed >= 5:
                return Run(True, False, served, 60.0 * (minute + 1))
            continue
        if weight >= 50:
            return Run(False, False, served, 60.0 * (minute + 1))  # promotion
        weight += 10
    return Run(False, False, served, 3600.0)


def run_guardrail(traffic: Traffic, look_seconds: float) -> Run:
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
            return Run(True, False, served, 60.0 * (minute + 1))
    return Run(False, False, served, 420.0)


SYSTEMS: dict[str, Callable[[Traffic, float], Run]] = {
    "modelcd": run_modelcd,
    "flagger-defaults": run_flagger,
    "sagemaker-guardrail": run_guardrail,
}


def _cell(job: tuple[str, float, str, int, float]) -> Run:
    system, rate, candidate, run, look = job
    traffic = Traffic(rate, CANDIDATES[candidate], np.random.default_rng(seed_of(run, rate)), seconds=SECONDS)
    return SYSTEMS[system](traffic, look)


# ------------------------------------------------------------------ the fixed-horizon analysis, from git

_FIXED_HORIZON_DRIVER = r"""
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import benchmarks.canary_detection as old
from cd.rollout.controller import Controller, Settings
from cd.rollout.decide import Desired
from cd.rollout.target import VariantSpec

CANDIDATES = {"good": old.GOOD, "bad-errors": old.BAD_ERRORS, "bad-latency": old.BAD_LATENCY}
out = []
for rate, candidate, run in json.loads(sys.stdin.read()):
    traffic = old.Traffic(rate, CANDIDATES[candidate], np.random.default_rng(run * 7919 + int(rate * 13)), seconds=int(sys.argv[2]))
    sim = old.SimTarget(traffic)
    clock = old.SimClock(sim)
    sim.clock = clock
    report = Controller(sim, old.STEPS, clock=clock, settings=Settings()).run(
        Desired("ep", "churn", VariantSpec(2, "img", "ml.m5.large", 1), owner="bench"))
    rolled = report.outcome == "rolled_back"
    decided = sim.restored_at if rolled and sim.restored_at is not None else clock.t
    out.append([rolled, report.outcome == "paused", sim.candidate_requests, decided])
print(json.dumps(out))
"""


def run_fixed_horizon(jobs: list[tuple[float, str, int]]) -> list[Run]:
    """The fixed-horizon analysis as it was, from its own commit, on the same traffic."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            [
                "git",
                "-C",
                str(ROOT),
                "archive",
                FIXED_HORIZON_COMMIT,
                "cd",
                "benchmarks",
                "environments",
                "models",
                "gates",
            ],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        halves = [jobs[i::2] for i in range(2)]
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _FIXED_HORIZON_DRIVER, tmp, str(SECONDS)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                cwd=tmp,
                env={**os.environ, "PYTHONPATH": tmp},
                text=True,
            )
            for _ in halves
        ]
        outputs = [p.communicate(json.dumps(h))[0] for p, h in zip(procs, halves, strict=True)]
        if any(p.returncode for p in procs):
            raise SystemExit("the fixed-horizon run failed")
    rows: list[Run | None] = [None] * len(jobs)
    for i, out in enumerate(outputs):
        for k, r in enumerate(json.loads(out)):
            rows[i + 2 * k] = Run(bool(r[0]), bool(r[1]), int(r[2]), float(r[3]))
    return [r for r in rows if r is not None]


# ------------------------------------------------------------------ report


def summarise(rate: float, candidate: str, system: str, runs: list[Run], look: float) -> dict[str, Any]:
    rolled = [r for r in runs if r.rolled_back]
    served = np.array([r.served for r in (rolled if candidate != "good" else runs)] or [0])
    decided = np.array([r.decided_s for r in runs])
    return {
        "rate": rate,
        "candidate": candidate,
        "system": system,
        "look_seconds": look if system == "modelcd" else 60.0,
        "runs": len(runs),
        "rolled_back_share": len(rolled) / len(runs),
        "paused_share": sum(r.paused for r in runs) / len(runs),
        "served_by_candidate_median": float(np.median(served)),
        "served_by_candidate_p95": float(np.percentile(served, 95)),
        "time_to_decision_median_s": float(np.median(decided)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--rates", type=float, nargs="+", default=[1.0, 10.0, 100.0])
    parser.add_argument("--look-seconds", type=float, default=60.0)
    parser.add_argument("--json", action="store_true", help="one JSON object per row")
    parser.add_argument("--no-fixed-horizon", action="store_true", help="skip the run from git history")
    args = parser.parse_args()
    started = time.perf_counter()
    cells = [(rate, cand, run) for rate in args.rates for cand in CANDIDATES for run in range(args.runs)]
    results: dict[tuple[float, str, str], list[Run]] = {}
    with ProcessPoolExecutor(max_workers=2) as pool:
        for system in SYSTEMS:
            jobs = [(system, rate, cand, run, args.look_seconds) for rate, cand, run in cells]
            for (rate, cand, _), run in zip(cells, pool.map(_cell, jobs, chunksize=8), strict=True):
                results.setdefault((rate, cand, system), []).append(run)
    if not args.no_fixed_horizon:
        for (rate, cand, _), run in zip(cells, run_fixed_horizon(cells), strict=True):
            results.setdefault((rate, cand, "modelcd-fixed-horizon"), []).append(run)
    order = ["modelcd", "modelcd-fixed-horizon", "flagger-defaults", "sagemaker-guardrail"]
    rows = [
        summarise(rate, cand, system, results[(rate, cand, system)], args.look_seconds)
        for rate in args.rates
        for cand in CANDIDATES
        for system in order
        if (rate, cand, system) in results
    ]
    if args.json:
        for row in rows:
            print(json.dumps(row, sort_keys=True))
        return
    print(
        f"{args.runs} runs per cell; stable 0.5% errors; latency lognormal median {LAT_MEDIAN_MS} ms; "
        f"modelcd looks every {args.look_seconds:g}s"
    )
    header = (
        f"{'rate/s':>7} {'candidate':<12} {'system':<22} {'rolled back':>11} {'paused':>7} "
        f"{'served med/p95':>16} {'decided med':>12}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['rate']:>7g} {row['candidate']:<12} {row['system']:<22} "
            f"{100 * row['rolled_back_share']:>10.1f}% {100 * row['paused_share']:>6.1f}% "
            f"{row['served_by_candidate_median']:>7.0f} / {row['served_by_candidate_p95']:<6.0f} "
            f"{row['time_to_decision_median_s']:>11.0f}s"
        )
    print(f"\nwall time {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()

"""A weighted router on 127.0.0.1 that speaks SageMaker runtime's InvokeEndpoint wire protocol.

`POST /endpoints/{name}/invocations` goes to one of the endpoint's variants, chosen by the current
weights (read from the state file, reloaded when it changes) unless `X-Amzn-SageMaker-Target-Variant`
names one; the response carries `x-Amzn-Invoked-Production-Variant`. Errors have the shapes botocore's
`sagemaker-runtime` model parses (`x-amzn-ErrorType` header, JSON body with `Message`):

- unknown endpoint or variant, bad request -> 400 `ValidationError`
- the model answered 4xx or 5xx -> 424 `ModelError` with `OriginalStatusCode` / `OriginalMessage`
  (as SageMaker does); counted as a 4xx or 5xx invocation error of that variant
- the variant is unreachable, crashed or stalls beyond the upstream timeout -> 424 `ModelError` with
  `OriginalStatusCode` 0; counted as a 5xx invocation error (never a hang)

Per variant it records every invocation (timestamp, latency, outcome); the control endpoint
`GET /_modelcd/metrics?endpoint=E[&variant=V]&start=S&end=T[&samples=1]` returns counts and latency
statistics for the window [S, T) (seconds since the epoch, on the router's clock), like CloudWatch's
per-variant `Invocations`, `Invocation4XXErrors`, `Invocation5XXErrors` and `ModelLatency`; with
`samples=1` also every latency, ascending, for the sequential latency test.

Shadow variants (`"shadow": true` in the state file) get a copy of each request the endpoint answers,
sent after the client's reply is decided; the copy's answer is compared with the client's
(`cd.rollout.shadow`) and both are logged under the shadow variant. A copy never changes, delays or
fails a response; copies in flight are held to the client concurrency and the rest are dropped and
counted (`shadow_dropped` in the metrics).

Other control endpoints: `GET /_modelcd/health` (pid, state file), `GET /_modelcd/routes` (the weights
in force), `POST /_modelcd/reload` (re-read the state file now; returns the routes). `GET /ping` answers
200 when the router is up.
"""

from __future__ import annotations

import argparse
import bisect
import http.client
import json
import math
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cd.monitor.capture import CAPTURE_DIR, CaptureWriter, Exchange
from cd.rollout.local.statefile import LocalState, StateFile
from cd.rollout.shadow import Comparison, compare
from cd.rollout.target import version_of_variant

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # SageMaker real-time inference payload limit
DEFAULT_UPSTREAM_TIMEOUT = 60.0  # SageMaker gives a container 60 s to answer
MAX_RECORDS_PER_VARIANT = 1_000_000
MAX_SHADOW_IN_FLIGHT = 16  # copies beyond this are dropped (and counted), never queued
INVOKE_PATH = re.compile(r"^/endpoints/([^/]+)/invocations$")
FORWARDED_HEADERS = ("Content-Type", "Accept", "X-Amzn-SageMaker-Custom-Attributes")
INFERENCE_ID = "X-Amzn-SageMaker-Inference-Id"  # InvokeEndpoint's InferenceId, kept in the capture

OK, CLIENT_ERROR, SERVER_ERROR = 0, 4, 5


# ---------------------------------------------------------------- pure parts


def choose_variant(weights: Mapping[str, float], u: float) -> str | None:
    """The variant a uniform draw `u` in [0, 1) selects, with probability proportional to weight.

    Variants are taken in name order, so a fixed sequence of draws gives a fixed sequence of choices.
    None when no variant has a positive weight.
    """
    positive = [(name, w) for name, w in sorted(weights.items()) if w > 0]
    total = sum(w for _, w in positive)
    if total <= 0:
        return None
    point = u * total
    acc = 0.0
    for name, w in positive:
        acc += w
        if point < acc:
            return name
    return positive[-1][0]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in (0, 100]) of an ascending, non-empty sequence."""
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class WindowMetrics:
    """One variant's invocations in [start, end): counts and latency (milliseconds) statistics."""

    invocations: int
    errors_4xx: int
    errors_5xx: int
    latency_ms: Mapping[str, float] | None  # average, p50, p90, p99, max; None without invocations
    samples: tuple[float, ...] | None = None  # every latency, ascending, when asked for

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "invocations": self.invocations,
            "errors_4xx": self.errors_4xx,
            "errors_5xx": self.errors_5xx,
            "latency_ms": None if self.latency_ms is None else dict(self.latency_ms),
        }
        if self.samples is not None:
            data["latency_samples_ms"] = [round(v, 3) for v in self.samples]
        return data


def summarise(latencies: Sequence[float], outcomes: Sequence[int], *, samples: bool = False) -> WindowMetrics:
    n = len(latencies)
    stats: dict[str, float] | None = None
    ordered = sorted(latencies)
    if n:
        stats = {
            "average": sum(ordered) / n,
            "p50": percentile(ordered, 50),
            "p90": percentile(ordered, 90),
            "p99": percentile(ordered, 99),
            "max": ordered[-1],
        }
    return WindowMetrics(
        invocations=n,
        errors_4xx=sum(1 for o in outcomes if o == CLIENT_ERROR),
        errors_5xx=sum(1 for o in outcomes if o == SERVER_ERROR),
        latency_ms=stats,
        samples=tuple(ordered) if samples else None,
    )


class InvocationLog:
    """Append-only record of one variant's invocations, queried by time window. Thread-safe."""

    def __init__(self, max_records: int = MAX_RECORDS_PER_VARIANT) -> None:
        self._lock = threading.Lock()
        self._times: list[float] = []
        self._latencies: list[float] = []
        self._outcomes: list[int] = []
        self._max = max_records

    def record(self, timestamp: float, latency_ms: float, outcome: int) -> None:
        with self._lock:
            # keep timestamps ascending even if the clock steps back, so windows can bisect
            ts = max(timestamp, self._times[-1]) if self._times else timestamp
            self._times.append(ts)
            self._latencies.append(latency_ms)
            self._outcomes.append(outcome)
            if len(self._times) > self._max:
                drop = len(self._times) - self._max + self._max // 10
                del self._times[:drop], self._latencies[:drop], self._outcomes[:drop]

    def window(self, start: float, end: float, *, samples: bool = False) -> WindowMetrics:
        with self._lock:
            lo = bisect.bisect_left(self._times, start)
            hi = bisect.bisect_left(self._times, end)
            latencies, outcomes = self._latencies[lo:hi], self._outcomes[lo:hi]
        return summarise(latencies, outcomes, samples=samples)


# ---------------------------------------------------------------- routes from the state file


@dataclass(frozen=True)
class Upstream:
    variant: str
    port: int
    weight: float
    shadow: bool = False


Routes = Mapping[str, Mapping[str, Upstream]]  # endpoint -> variant -> upstream


def routes_from_state(state: LocalState) -> Routes:
    return {
        ep.name: {v.name: Upstream(v.name, v.port, v.weight, v.shadow) for v in ep.variants.values()}
        for ep in state.endpoints.values()
    }


def routes_to_json(routes: Routes) -> dict[str, Any]:
    return {
        ep: {
            v.variant: {"port": v.port, "weight": v.weight, **({"shadow": True} if v.shadow else {})}
            for v in variants.values()
        }
        for ep, variants in routes.items()
    }


class ComparisonLog:
    """Per shadow variant: each copied request's answer compared with the one the client got."""

    def __init__(self, max_records: int = MAX_RECORDS_PER_VARIANT) -> None:
        self._lock = threading.Lock()
        self._times: list[float] = []
        self._rows: list[Comparison | None] = []  # None: an answer that could not be compared
        self._max = max_records

    def record(self, timestamp: float, comparison: Comparison | None) -> None:
        with self._lock:
            ts = max(timestamp, self._times[-1]) if self._times else timestamp
            self._times.append(ts)
            self._rows.append(comparison)
            if len(self._times) > self._max:
                drop = len(self._times) - self._max + self._max // 10
                del self._times[:drop], self._rows[:drop]

    def window(self, start: float, end: float) -> dict[str, Any]:
        with self._lock:
            lo = bisect.bisect_left(self._times, start)
            hi = bisect.bisect_left(self._times, end)
            rows = self._rows[lo:hi]
        compared = [r for r in rows if r is not None]
        return {
            "comparisons": [[r.labels_differ, round(r.score_difference, 6)] for r in compared],
            "scores": [
                [r.candidate_score, r.stable_score]
                for r in compared
                if r.candidate_score is not None and r.stable_score is not None
            ],
            "uncomparable": len(rows) - len(compared),
        }


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: Mapping[str, str]
    variant: str | None = None


def validation_error(message: str) -> Reply:
    body = json.dumps({"Message": message}).encode()
    return Reply(400, body, {"x-amzn-ErrorType": "ValidationError", "Content-Type": "application/json"})


def model_error(variant: str, original_status: int, original_message: str) -> Reply:
    if original_status == 0:
        message = f'Received server error (0) from {variant} with message "{original_message}".'
    else:
        kind = "client" if 400 <= original_status < 500 else "server"
        message = (
            f'Received {kind} error ({original_status}) from {variant} with message "{original_message}".'
        )
    body = {
        "ErrorCode": "CLIENT_ERROR_FROM_MODEL" if 400 <= original_status < 500 else "SERVER_ERROR_FROM_MODEL",
        "Message": message,
        "OriginalStatusCode": original_status,
        "OriginalMessage": original_message,
    }
    return Reply(
        424,
        json.dumps(body).encode(),
        {"x-amzn-ErrorType": "ModelError", "Content-Type": "application/json"},
        variant,
    )


# ---------------------------------------------------------------- upstream connections

# Failures that mean "a kept-alive connection had been closed by the server", seen before any response.
_STALE_CONNECTION = (
    http.client.RemoteDisconnected,
    BrokenPipeError,
    ConnectionResetError,
    ConnectionAbortedError,
)


class UpstreamPool:
    """Keep-alive HTTP connections to variant servers on loopback, reused across requests. Thread-safe.

    A request that fails on a *reused* connection because the server had closed it (idle keep-alive
    timeout) is sent once more on a new connection; every other failure (refused, timeout, reset on a
    new connection) is the caller's to report.
    """

    def __init__(self, timeout: float, max_idle_per_port: int = 32) -> None:
        self.timeout = timeout
        self.max_idle = max_idle_per_port
        self._idle: dict[int, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    def post(self, port: int, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        """POST /invocations; returns (status, lower-cased headers, body)."""
        conn, reused = self._take(port)
        try:
            return self._exchange(port, conn, body, headers)
        except _STALE_CONNECTION:
            if not reused:
                raise
        return self._exchange(port, self._new(port), body, headers)

    def _exchange(
        self, port: int, conn: http.client.HTTPConnection, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            conn.request("POST", "/invocations", body=body, headers=dict(headers))
            response = conn.getresponse()
            payload = response.read()
        except BaseException:
            conn.close()
            raise
        result = response.status, {k.lower(): v for k, v in response.getheaders()}, payload
        if response.will_close:
            conn.close()
        else:
            self._give_back(port, conn)
        return result

    def _new(self, port: int) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", port, timeout=self.timeout)

    def _take(self, port: int) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get(port)
            if idle:
                return idle.pop(), True
        return self._new(port), False

    def _give_back(self, port: int, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(port, [])
            if len(idle) < self.max_idle:
                idle.append(conn)
                return
        conn.close()

    def forget_except(self, ports: set[int]) -> None:
        """Close idle connections to ports no variant uses any more."""
        with self._lock:
            gone = [p for p in self._idle if p not in ports]
            closing = [c for p in gone for c in self._idle.pop(p)]
        for conn in closing:
            conn.close()


# ---------------------------------------------------------------- the router


class Router:
    """Routing and metrics, independent of the HTTP server that calls it."""

    def __init__(
        self,
        state_file: StateFile,
        *,
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
        upstream_timeout: float = DEFAULT_UPSTREAM_TIMEOUT,
    ) -> None:
        self.state_file = state_file
        self.clock = clock
        self.upstream_timeout = upstream_timeout
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._routes_lock = threading.Lock()
        self._routes: Routes = {}
        self._stamp: tuple[int, int, int] | None = None
        self._logs: dict[tuple[str, str], InvocationLog] = {}
        self._comparisons: dict[tuple[str, str], ComparisonLog] = {}
        self._logs_lock = threading.Lock()
        self._upstreams = UpstreamPool(upstream_timeout)
        self._mirror = ThreadPoolExecutor(max_workers=MAX_SHADOW_IN_FLIGHT, thread_name_prefix="shadow")
        self._flight_lock = threading.Lock()
        self._live_in_flight = 0  # client requests being answered now
        self._copies_in_flight = 0
        self.shadow_dropped = 0
        self.capture_root = state_file.dir / CAPTURE_DIR
        self._capture: dict[str, int] = {}  # endpoint -> sampling percentage, from the state file
        self._writers: dict[int, CaptureWriter] = {}  # sampling percentage -> writer

    # routes -----------------------------------------------------------------
    def routes(self, *, force: bool = False) -> Routes:
        """The current routes, re-read from the state file when it has been replaced."""
        try:
            st = os.stat(self.state_file.path)
            stamp: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        with self._routes_lock:
            if force or stamp != self._stamp:
                state = self.state_file.read() if stamp is not None else None
                self._routes = routes_from_state(state) if state is not None else {}
                self._capture = {
                    ep.name: ep.capture_percentage
                    for ep in (state.endpoints.values() if state is not None else ())
                    if ep.capture_percentage is not None
                }
                self._stamp = stamp
                self._upstreams.forget_except({u.port for vs in self._routes.values() for u in vs.values()})
            return self._routes

    # invocation -------------------------------------------------------------
    def invoke(self, endpoint: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        variants = self.routes().get(endpoint)
        if variants is None:
            return validation_error(f"Endpoint {endpoint} of account local not found.")
        target = headers.get("X-Amzn-SageMaker-Target-Variant")
        if target is not None:
            if target not in variants:
                return validation_error(
                    f"The variant {target} does not exist in endpoint {endpoint}; "
                    f"its variants are: {', '.join(sorted(variants)) or 'none'}."
                )
            if variants[target].shadow:
                return validation_error(f"The variant {target} is a shadow variant of endpoint {endpoint}.")
            return self._forward(endpoint, variants[target], body, headers)
        with self._rng_lock:
            u = self._rng.random()
        production = {v.variant: v.weight for v in variants.values() if not v.shadow}
        chosen = choose_variant(production, u)
        if chosen is None:
            return validation_error(f"Endpoint {endpoint} has no variant with a positive weight.")
        with self._flight_lock:
            self._live_in_flight += 1
        try:
            reply = self._forward(endpoint, variants[chosen], body, headers)
        finally:
            with self._flight_lock:
                self._live_in_flight -= 1
        self.capture(endpoint, body, headers, reply)
        for shadow in (v for v in variants.values() if v.shadow):
            self._copy(endpoint, shadow, body, headers, reply)
        return reply

    def capture(self, endpoint: str, body: bytes, headers: Mapping[str, str], reply: Reply) -> None:
        """Hand an answered request to the capture writer (enqueue only; never raises)."""
        percentage = self._capture.get(endpoint)
        if percentage is None or reply.status != 200 or reply.variant is None:
            return
        writer = self._writers.get(percentage)
        if writer is None:
            with self._logs_lock:
                writer = self._writers.setdefault(
                    percentage, CaptureWriter(self.capture_root, sampling_percentage=percentage)
                )
        writer.offer(
            Exchange(
                endpoint=endpoint,
                variant=reply.variant,
                model_version=version_of_variant(reply.variant),
                request=body,
                request_type=headers.get("Content-Type") or "application/octet-stream",
                response=reply.body,
                response_type=reply.headers.get("Content-Type") or "application/octet-stream",
                timestamp=self.clock(),
                inference_id=headers.get(INFERENCE_ID),
            )
        )

    def capture_counts(self) -> dict[str, int]:
        counts = [w.counts() for w in list(self._writers.values())]
        return {
            "written": sum(c.written for c in counts),
            "dropped": sum(c.dropped for c in counts),
            "sampled_out": sum(c.sampled_out for c in counts),
        }

    def _copy(
        self, endpoint: str, shadow: Upstream, body: bytes, headers: Mapping[str, str], reply: Reply
    ) -> None:
        """Send a copy of the request to the shadow variant in the background. The client's reply is
        already decided: a slow, failing or dropped copy cannot change it.

        Copies in flight are held to the client concurrency (plus two): the shadow sees the load stable
        sees, so its latency compares with stable's. A copy beyond that is dropped and counted, never
        queued (a queued copy's latency would measure the queue)."""
        with self._flight_lock:
            allowed = min(MAX_SHADOW_IN_FLIGHT, self._live_in_flight + 2)
            if self._copies_in_flight >= allowed:
                self.shadow_dropped += 1
                return
            self._copies_in_flight += 1

        def run() -> None:
            try:
                answer = self._forward(endpoint, shadow, body, headers)
                answered = reply.status == 200 and answer.status == 200
                comparison = compare(answer.body, reply.body) if answered else None
                self._comparison_log(endpoint, shadow.variant).record(self.clock(), comparison)
                self.capture(endpoint, body, headers, answer)
            finally:
                with self._flight_lock:
                    self._copies_in_flight -= 1

        try:
            self._mirror.submit(run)
        except RuntimeError:  # shutting down
            with self._flight_lock:
                self._copies_in_flight -= 1

    def _forward(self, endpoint: str, upstream: Upstream, body: bytes, headers: Mapping[str, str]) -> Reply:
        send = {h: headers[h] for h in FORWARDED_HEADERS if h in headers}
        send.setdefault("Content-Type", "application/octet-stream")
        started = time.perf_counter()
        timestamp = self.clock()
        try:
            status, response_headers, payload = self._upstreams.post(upstream.port, body, send)
        except TimeoutError:
            self._record(endpoint, upstream.variant, timestamp, started, SERVER_ERROR)
            return model_error(
                upstream.variant,
                0,
                f"Your invocation timed out while waiting for a response from container {upstream.variant} "
                f"(after {self.upstream_timeout:g}s).",
            )
        except (OSError, http.client.HTTPException) as exc:
            self._record(endpoint, upstream.variant, timestamp, started, SERVER_ERROR)
            return model_error(
                upstream.variant,
                0,
                f"Could not get a response from container {upstream.variant} on port {upstream.port}: "
                f"{type(exc).__name__}: {exc}",
            )
        reply_headers = {"Content-Type": response_headers.get("content-type") or "application/octet-stream"}
        custom = response_headers.get("x-amzn-sagemaker-custom-attributes")
        if custom is not None:
            reply_headers["X-Amzn-SageMaker-Custom-Attributes"] = custom
        if 200 <= status < 300:
            self._record(endpoint, upstream.variant, timestamp, started, OK)
            return Reply(200, payload, reply_headers, upstream.variant)
        outcome = CLIENT_ERROR if 400 <= status < 500 else SERVER_ERROR
        self._record(endpoint, upstream.variant, timestamp, started, outcome)
        return model_error(upstream.variant, status, payload.decode("utf-8", errors="replace")[:1024])

    def _record(self, endpoint: str, variant: str, timestamp: float, started: float, outcome: int) -> None:
        latency_ms = (time.perf_counter() - started) * 1000.0
        self._log(endpoint, variant).record(timestamp, latency_ms, outcome)

    def _log(self, endpoint: str, variant: str) -> InvocationLog:
        with self._logs_lock:
            return self._logs.setdefault((endpoint, variant), InvocationLog())

    def _comparison_log(self, endpoint: str, variant: str) -> ComparisonLog:
        with self._logs_lock:
            return self._comparisons.setdefault((endpoint, variant), ComparisonLog())

    # metrics ----------------------------------------------------------------
    def metrics(
        self, endpoint: str, variant: str | None, start: float, end: float, *, samples: bool = False
    ) -> dict[str, Any]:
        with self._logs_lock:
            names = sorted(v for (ep, v) in self._logs if ep == endpoint)
        current = self.routes().get(endpoint, {})
        names = sorted(set(names) | set(current))
        if variant is not None:
            names = [variant]
        windows = {
            name: self._log(endpoint, name).window(start, end, samples=samples).to_json() for name in names
        }
        with self._logs_lock:
            compared = {v for (ep, v) in self._comparisons if ep == endpoint}
        for name in set(names) & compared:
            windows[name]["shadow"] = self._comparison_log(endpoint, name).window(start, end)
        return {
            "endpoint": endpoint,
            "start": start,
            "end": end,
            "variants": windows,
            "shadow_dropped": self.shadow_dropped,
            "capture": self.capture_counts(),
        }


# ---------------------------------------------------------------- HTTP


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as boto3's connection pool expects
    server_version = "modelcd-local-router"
    timeout = 120  # an idle keep-alive connection is closed after this long
    disable_nagle_algorithm = True  # headers and body leave at once (no 40 ms delayed-ACK stalls)
    wbufsize = 64 * 1024  # ... and in one write; the server flushes after each request
    router: Router  # set on the subclass made by make_server

    def log_message(self, format: str, *args: Any) -> None:
        return  # one line per request would swamp the log; metrics are the record

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if reply.variant is not None:
            self.send_header("x-Amzn-Invoked-Production-Variant", reply.variant)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def _send_json(self, status: int, data: Any) -> None:
        body = json.dumps(data).encode()
        self._send(Reply(status, body, {"Content-Type": "application/json"}))

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_PAYLOAD_BYTES:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_PAYLOAD_BYTES:
            return None
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/ping":
            self._send(Reply(200, b"", {"Content-Type": "text/plain"}))
        elif url.path == "/_modelcd/health":
            self._send_json(200, {"pid": os.getpid(), "state_file": str(self.router.state_file.path)})
        elif url.path == "/_modelcd/routes":
            self._send_json(200, routes_to_json(self.router.routes()))
        elif url.path == "/_modelcd/metrics":
            self._metrics(parse_qs(url.query))
        else:
            self._send(validation_error(f"No route for GET {url.path}."))

    def _metrics(self, query: Mapping[str, list[str]]) -> None:
        try:
            endpoint = query["endpoint"][0]
            start = float(query["start"][0])
            end = float(query["end"][0])
        except (KeyError, IndexError, ValueError):
            self._send(validation_error("metrics needs endpoint=NAME&start=EPOCH&end=EPOCH [&variant=NAME]"))
            return
        variant = query.get("variant", [None])[0]
        samples = query.get("samples", ["0"])[0] == "1"
        self._send_json(200, self.router.metrics(endpoint, variant, start, end, samples=samples))

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        if body is None:
            self.close_connection = True
            self._send(validation_error(f"Request payload is larger than {MAX_PAYLOAD_BYTES} bytes."))
            return
        match = INVOKE_PATH.match(url.path)
        if match:
            headers = {k: v for k, v in self.headers.items()}
            canonical = {
                h.lower(): h for h in (*FORWARDED_HEADERS, "X-Amzn-SageMaker-Target-Variant", INFERENCE_ID)
            }
            headers = {canonical.get(k.lower(), k): v for k, v in headers.items()}
            self._send(self.router.invoke(unquote(match.group(1)), body, headers))
        elif url.path == "/_modelcd/reload":
            self._send_json(200, routes_to_json(self.router.routes(force=True)))
        else:
            self._send(validation_error(f"No route for POST {url.path}."))


class RouterServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


def make_server(router: Router, port: int = 0) -> RouterServer:
    """An HTTP server for `router` bound to 127.0.0.1:`port` (0: any free port). Call serve_forever."""
    handler = type("RouterHandler", (_Handler,), {"router": router})
    return RouterServer(("127.0.0.1", port), handler)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cd.rollout.local.router", description=__doc__)
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--upstream-timeout", type=float, default=DEFAULT_UPSTREAM_TIMEOUT)
    args = parser.parse_args(argv)
    router = Router(StateFile(args.state_dir), seed=args.seed, upstream_timeout=args.upstream_timeout)
    server = make_server(router, args.port)
    print(f"modelcd router pid {os.getpid()} listening on http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

"""A traffic generator: replays rows against an endpoint with boto3 `sagemaker-runtime` InvokeEndpoint.

It talks to the local router exactly as an application talks to SageMaker (`endpoint_url` pointed at the
router, dummy credentials), so whatever the demo or a test sends is what canary analysis sees. Bounded
by a request count and a wall-clock budget; loopback addresses only.

    report = replay(router_url, "modelcd-staging-churn", rows, max_requests=500, max_seconds=30)

`BackgroundTraffic` runs the same replay in a thread while a rollout proceeds.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cd.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

Row = Mapping[str, Any]
Encoder = Callable[[Sequence[Row]], bytes]
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def json_records(rows: Sequence[Row]) -> bytes:
    """The body for a batch of rows: a JSON array of records (column -> value)."""
    return json.dumps([dict(r) for r in rows], default=_json_default).encode()


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def rows_from(data: pd.DataFrame | Path | str, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Rows (dicts) from a DataFrame or a CSV file, keeping only `columns` when given."""
    import pandas as pd

    frame = data if isinstance(data, pd.DataFrame) else pd.read_csv(Path(data))
    if columns is not None:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise UsageError(f"traffic rows lack the model's input columns: {', '.join(missing)}")
        frame = frame[list(columns)]
    records: list[dict[str, Any]] = frame.to_dict(orient="records")
    return records


@dataclass
class VariantTally:
    succeeded: int = 0
    model_errors: int = 0


@dataclass
class TrafficReport:
    """What one replay sent and what came back, by invoked variant."""

    sent: int = 0
    succeeded: int = 0
    model_errors: int = 0  # ModelError: the variant answered 4xx/5xx, crashed or timed out
    other_errors: int = 0  # anything else: validation errors, the router unreachable
    seconds: float = 0.0
    by_variant: dict[str, VariantTally] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)  # error code -> count

    def to_json(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "succeeded": self.succeeded,
            "model_errors": self.model_errors,
            "other_errors": self.other_errors,
            "seconds": round(self.seconds, 3),
            "by_variant": {k: v.__dict__ for k, v in sorted(self.by_variant.items())},
            "errors": dict(self.errors),
        }


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in LOOPBACK_HOSTS:
        raise UsageError(f"the traffic generator only sends to loopback addresses, not {url!r}")


def runtime_client(endpoint_url: str, *, read_timeout: float = 70.0, pool: int = 10) -> Any:
    """A boto3 `sagemaker-runtime` client for `endpoint_url`, with dummy credentials and no retries."""
    import boto3
    from botocore.config import Config

    check_loopback(endpoint_url)
    return boto3.session.Session().client(
        "sagemaker-runtime",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="modelcd-local",
        aws_secret_access_key="modelcd-local",
        config=Config(
            retries={"mode": "standard", "total_max_attempts": 1},
            connect_timeout=5,
            read_timeout=read_timeout,
            max_pool_connections=pool,
        ),
    )


def replay(
    endpoint_url: str,
    endpoint: str,
    rows: Sequence[Row],
    *,
    max_requests: int,
    max_seconds: float,
    rows_per_request: int = 1,
    encode: Encoder = json_records,
    content_type: str = "application/json",
    rate_per_second: float | None = None,
    concurrency: int = 1,
    target_variant: str | None = None,
    stop: threading.Event | None = None,
    inference_ids: Sequence[str] | None = None,
) -> TrafficReport:
    """Send up to `max_requests` InvokeEndpoint calls (cycling through `rows`) within `max_seconds`.

    Stops early when `stop` is set. With `rate_per_second`, requests are paced (per worker). With
    `inference_ids` (one per row), each request carries the id of its first row as `InferenceId`, which
    data capture keeps, so outcomes can be joined to it later.
    """
    if not rows:
        raise UsageError("the traffic generator needs at least one row to replay")
    if max_requests < 0 or max_seconds <= 0 or concurrency < 1 or rows_per_request < 1:
        raise UsageError("max_requests >= 0, max_seconds > 0, concurrency >= 1, rows_per_request >= 1")
    if inference_ids is not None and len(inference_ids) != len(rows):
        raise UsageError(f"{len(inference_ids)} inference ids for {len(rows)} rows: give one per row")
    client = runtime_client(endpoint_url, pool=concurrency)
    stop = stop or threading.Event()
    started = time.monotonic()
    deadline = started + max_seconds
    bodies = itertools.cycle(_batches(rows, rows_per_request, encode, inference_ids))
    lock = threading.Lock()
    report = TrafficReport()
    budget = iter(range(max_requests))

    def take() -> tuple[bytes, str | None] | None:
        with lock:
            if stop.is_set() or time.monotonic() >= deadline or next(budget, None) is None:
                return None
            return next(bodies)

    def worker() -> None:
        interval = concurrency / rate_per_second if rate_per_second else 0.0
        next_at = time.monotonic()
        while (request := take()) is not None:
            body, inference_id = request
            if interval:
                pause = next_at - time.monotonic()
                if pause > 0 and stop.wait(min(pause, max(0.0, deadline - time.monotonic()))):
                    return
                next_at = max(next_at + interval, time.monotonic() - interval)
            outcome = _invoke(client, endpoint, body, content_type, target_variant, inference_id)
            with lock:
                _tally(report, *outcome)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="modelcd-traffic") as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    report.seconds = time.monotonic() - started
    return report


def _batches(
    rows: Sequence[Row], size: int, encode: Encoder, ids: Sequence[str] | None
) -> Iterable[tuple[bytes, str | None]]:
    return [(encode(rows[i : i + size]), None if ids is None else ids[i]) for i in range(0, len(rows), size)]


def _invoke(
    client: Any,
    endpoint: str,
    body: bytes,
    content_type: str,
    target_variant: str | None,
    inference_id: str | None = None,
) -> tuple[str, str | None, str | None]:
    """(outcome, invoked variant, error code) for one call; outcome is ok, model_error or error."""
    from botocore.exceptions import BotoCoreError, ClientError

    kwargs: dict[str, Any] = {"EndpointName": endpoint, "Body": body, "ContentType": content_type}
    if target_variant is not None:
        kwargs["TargetVariant"] = target_variant
    if inference_id is not None:
        kwargs["InferenceId"] = inference_id
    try:
        response = client.invoke_endpoint(**kwargs)
        response["Body"].read()
        return "ok", response.get("InvokedProductionVariant"), None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "ClientError")
        variant = (
            exc.response.get("ResponseMetadata", {})
            .get("HTTPHeaders", {})
            .get("x-amzn-invoked-production-variant")
        )
        return ("model_error" if code == "ModelError" else "error"), variant, code
    except BotoCoreError as exc:
        return "error", None, type(exc).__name__


def _tally(report: TrafficReport, outcome: str, variant: str | None, code: str | None) -> None:
    report.sent += 1
    if code is not None:
        report.errors[code] = report.errors.get(code, 0) + 1
    if outcome == "ok":
        report.succeeded += 1
    elif outcome == "model_error":
        report.model_errors += 1
    else:
        report.other_errors += 1
    if variant is not None:
        tally = report.by_variant.setdefault(variant, VariantTally())
        if outcome == "ok":
            tally.succeeded += 1
        else:
            tally.model_errors += 1


class BackgroundTraffic:
    """`replay` in a background thread: `with BackgroundTraffic(...) as traffic: ...; traffic.report`."""

    def __init__(self, endpoint_url: str, endpoint: str, rows: Sequence[Row], **options: Any) -> None:
        check_loopback(endpoint_url)
        self._stop = threading.Event()
        self._args = (endpoint_url, endpoint, rows)
        self._options = options
        self._report: TrafficReport | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="modelcd-traffic", daemon=True)

    def _run(self) -> None:
        try:
            self._report = replay(*self._args, stop=self._stop, **self._options)
        except BaseException as exc:  # surfaced by stop()
            self._error = exc

    def start(self) -> BackgroundTraffic:
        self._thread.start()
        return self

    def stop(self) -> TrafficReport:
        self._stop.set()
        return self.wait()

    def wait(self) -> TrafficReport:
        """The report, once every request was sent (or max_seconds passed)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._report is not None
        return self._report

    @property
    def report(self) -> TrafficReport | None:
        return self._report

    def __enter__(self) -> BackgroundTraffic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

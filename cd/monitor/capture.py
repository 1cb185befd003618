"""Data capture: one JSON Lines record per answered request, in SageMaker's data-capture format.

SageMaker (DataCaptureConfig) writes `<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl`; the
local router writes the same layout and the same records under `<state_dir>/capture`, so one reader
serves both. A record:

    {"captureData": {"endpointInput":  {"observedContentType": "application/json", "mode": "INPUT",
                                        "data": "<the request body>", "encoding": "JSON"},
                     "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                                        "data": "<the answer>", "encoding": "JSON"}},
     "eventMetadata": {"eventId": "<uuid>", "inferenceId": "<the caller's InferenceId>",
                       "inferenceTime": "2026-12-01T17:00:00Z"},
     "eventVersion": "0"}

The local router adds `variant` and `modelVersion` to `eventMetadata`; SageMaker's records carry neither,
so readers take the variant from the path (`v<N>` names model version N). Bodies whose media type is
neither JSON nor CSV are base64-encoded (`"encoding": "BASE64"`), as SageMaker does.

Capture never slows or fails a response: the router hands each record to `CaptureWriter.offer`, which
only enqueues (or, with the queue full, drops and counts); a background thread writes. A write that fails
(disk full, directory gone) drops that batch and counts it.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CAPTURE_DIR = "capture"  # under the local target's state directory
EVENT_VERSION = "0"
MAX_QUEUED = 10_000
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
JSON_TYPES = ("application/json",)
CSV_TYPES = ("text/csv",)


def encoding_of(content_type: str | None) -> str:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in JSON_TYPES:
        return "JSON"
    if media in CSV_TYPES:
        return "CSV"
    return "BASE64"


def _data(body: bytes, encoding: str) -> str:
    if encoding == "BASE64":
        return base64.b64encode(body).decode("ascii")
    return body.decode("utf-8", errors="replace")


def inference_time(epoch: float) -> str:
    return time.strftime(TIME_FORMAT, time.gmtime(epoch))


@dataclass(frozen=True)
class Exchange:
    """One answered request, as the router saw it."""

    endpoint: str
    variant: str
    model_version: int | None
    request: bytes
    request_type: str
    response: bytes
    response_type: str
    timestamp: float  # seconds since the epoch
    inference_id: str | None = None
    event_id: str = ""


def capture_record(exchange: Exchange) -> dict[str, Any]:
    """The data-capture record of one exchange (pure)."""
    in_enc, out_enc = encoding_of(exchange.request_type), encoding_of(exchange.response_type)
    metadata: dict[str, Any] = {
        "eventId": exchange.event_id or str(uuid.uuid4()),
        "inferenceTime": inference_time(exchange.timestamp),
        "variant": exchange.variant,
    }
    if exchange.inference_id is not None:
        metadata["inferenceId"] = exchange.inference_id
    if exchange.model_version is not None:
        metadata["modelVersion"] = exchange.model_version
    return {
        "captureData": {
            "endpointInput": {
                "observedContentType": exchange.request_type,
                "mode": "INPUT",
                "data": _data(exchange.request, in_enc),
                "encoding": in_enc,
            },
            "endpointOutput": {
                "observedContentType": exchange.response_type,
                "mode": "OUTPUT",
                "data": _data(exchange.response, out_enc),
                "encoding": out_enc,
            },
        },
        "eventMetadata": metadata,
        "eventVersion": EVENT_VERSION,
    }


def capture_path(root: Path, endpoint: str, variant: str, epoch: float, name: str) -> Path:
    """`<root>/<endpoint>/<variant>/yyyy/mm/dd/hh/<name>.jsonl`, the layout SageMaker writes in S3."""
    hour = time.strftime("%Y/%m/%d/%H", time.gmtime(epoch))
    return root / endpoint / variant / hour / f"{name}.jsonl"


@dataclass(frozen=True)
class CaptureCounts:
    written: int
    dropped: int
    sampled_out: int


class CaptureWriter:
    """Writes exchanges in the background. `offer` never blocks and never raises."""

    def __init__(
        self,
        root: Path,
        *,
        sampling_percentage: int = 100,
        max_queued: int = MAX_QUEUED,
        rng: random.Random | None = None,
        open_file: Callable[[Path], Any] | None = None,
    ) -> None:
        self.root = root
        self.sampling = sampling_percentage / 100.0
        self._queue: queue.Queue[Exchange | None] = queue.Queue(maxsize=max_queued)
        self._rng = rng or random.Random()
        self._open = open_file or (lambda path: open(path, "a", encoding="utf-8"))  # noqa: SIM115
        self._lock = threading.Lock()
        self._name = f"{time.strftime('%M-%S', time.gmtime())}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.written = 0
        self.dropped = 0
        self.sampled_out = 0
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self._thread.start()

    def counts(self) -> CaptureCounts:
        with self._lock:
            return CaptureCounts(self.written, self.dropped, self.sampled_out)

    def offer(self, exchange: Exchange) -> None:
        try:
            with self._lock:
                if self._rng.random() >= self.sampling:
                    self.sampled_out += 1
                    return
            self._queue.put_nowait(exchange)
        except queue.Full:
            with self._lock:
                self.dropped += 1
        except Exception:
            with self._lock:
                self.dropped += 1

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything offered so far is written or dropped (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)

    def close(self) -> None:
        self.flush()
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                self._queue.task_done()
                return
            batch = [first]
            while len(batch) < 512:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # seen after this batch
                    self._queue.task_done()
                    break
                batch.append(item)
            self._write(batch)
            for _ in batch:
                self._queue.task_done()

    def _write(self, batch: list[Exchange]) -> None:
        groups: dict[Path, list[str]] = {}
        for exchange in batch:
            path = capture_path(
                self.root, exchange.endpoint, exchange.variant, exchange.timestamp, self._name
            )
            groups.setdefault(path, []).append(json.dumps(capture_record(exchange), separators=(",", ":")))
        for path, lines in groups.items():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with self._open(path) as handle:
                    handle.write("\n".join(lines) + "\n")
            except OSError:  # disk full, read-only, removed: drop and count, never raise
                with self._lock:
                    self.dropped += len(lines)
                continue
            with self._lock:
                self.written += len(lines)

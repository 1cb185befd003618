"""GitHub rate limits: how long to wait (pure), and a requests transport adapter that waits and retries
within a bound. Sleep and clock are injected so tests never sleep."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest, Response

DEFAULT_SECONDARY_WAIT = 60.0
# Methods whose repeat changes nothing more than the first call: safe to send again after a 5xx.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRIED_SERVER_ERRORS = frozenset({500, 502, 503, 504})


def is_secondary_rate_limit(status: int, body: bytes) -> bool:
    """A 403 (or 429) whose message says a secondary rate limit was hit: GitHub may send it without
    Retry-After or X-RateLimit-* headers."""
    return status in (403, 429) and b"secondary rate limit" in body.lower()


def rate_limit_delay(
    status: int, headers: Mapping[str, str], now: float, body: bytes = b"", attempt: int = 0
) -> float | None:
    """Seconds to wait before retrying, or None when the response is not a rate limit. GitHub's rules
    (REST API docs, "Rate limits for the REST API"), in order:

    - Retry-After present (429, or a 403 secondary limit): that many seconds;
    - X-RateLimit-Remaining: 0 (the primary limit): until X-RateLimit-Reset (epoch seconds), +1 s;
    - a 429, or a 403 whose message names a secondary rate limit, without those headers: at least a
      minute, doubled on each further attempt.
    """
    retry_after = headers.get("Retry-After")
    limited = status == 429 or (
        status == 403 and (retry_after is not None or is_secondary_rate_limit(status, body))
    )
    if status in (403, 429) and retry_after is not None:
        try:
            return max(float(retry_after), 0.0)
        except ValueError:
            return DEFAULT_SECONDARY_WAIT * 2**attempt
    if status in (403, 429) and headers.get("X-RateLimit-Remaining") == "0":
        try:
            reset = float(headers.get("X-RateLimit-Reset", ""))
        except ValueError:
            return DEFAULT_SECONDARY_WAIT * 2**attempt
        return max(reset - now, 0.0) + 1.0
    if limited:
        return DEFAULT_SECONDARY_WAIT * 2**attempt
    return None


def server_error_delay(method: str, status: int, attempt: int) -> float | None:
    """Seconds before sending an idempotent request again after a transient 5xx (1, 2, 4 s ...), or None.
    A POST is not sent again: GitHub may have carried it out before failing (a second PR, release, ...)."""
    if status in RETRIED_SERVER_ERRORS and method.upper() in IDEMPOTENT:
        return float(2**attempt)
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """Wait out rate limits at most MAX_RETRIES times and MAX_WAIT seconds in total per request."""

    max_retries: int = 3
    max_wait: float = 15 * 60.0
    sleep: Callable[[float], None] = field(default=time.sleep)
    clock: Callable[[], float] = field(default=time.time)


class RateLimitAdapter(HTTPAdapter):
    """Re-sends a request that hit a rate limit after the wait GitHub asks for, within the policy."""

    def __init__(self, policy: RetryPolicy) -> None:
        super().__init__()
        self.policy = policy

    def send(self, request: PreparedRequest, **kwargs: Any) -> Response:  # type: ignore[override]
        waited = 0.0
        attempt = 0
        while True:
            response = super().send(request, **kwargs)
            status = response.status_code
            body = response.content if status in (403, 429) else b""
            delay = rate_limit_delay(status, response.headers, self.policy.clock(), body, attempt)
            if delay is None:
                delay = server_error_delay(request.method or "GET", status, attempt)
            if delay is None or attempt >= self.policy.max_retries or waited + delay > self.policy.max_wait:
                return response
            response.close()
            self.policy.sleep(delay)
            waited += delay
            attempt += 1
            _rewind(request)


def _rewind(request: PreparedRequest) -> None:
    seek = getattr(request.body, "seek", None)
    if callable(seek):
        seek(0)

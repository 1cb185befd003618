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


def rate_limit_delay(status: int, headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait before retrying, or None when the response is not a rate limit.

    - 429, or 403 with Retry-After (secondary limits): Retry-After seconds (60 when absent on a 429);
    - 403 with X-RateLimit-Remaining: 0 (primary limit): until X-RateLimit-Reset (epoch seconds), +1 s.
    """
    retry_after = headers.get("Retry-After")
    if status == 429 or (status == 403 and retry_after is not None):
        try:
            return max(float(retry_after), 0.0) if retry_after is not None else DEFAULT_SECONDARY_WAIT
        except ValueError:
            return DEFAULT_SECONDARY_WAIT
    if status == 403 and headers.get("X-RateLimit-Remaining") == "0":
        try:
            reset = float(headers.get("X-RateLimit-Reset", ""))
        except ValueError:
            return DEFAULT_SECONDARY_WAIT
        return max(reset - now, 0.0) + 1.0
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
            delay = rate_limit_delay(response.status_code, response.headers, self.policy.clock())
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

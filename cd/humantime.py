"""Moments as a person reads them: ISO 8601 in UTC and a distance from now; never an epoch number."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def describe_time(epoch_seconds: float, now: float | None = None) -> str:
    """A moment as a person reads it: ISO 8601 in UTC, and how far it is from now ("in 42 min")."""
    moment = datetime.fromtimestamp(epoch_seconds, UTC).replace(microsecond=0)
    delta = epoch_seconds - (time.time() if now is None else now)
    return f"{moment.isoformat().replace('+00:00', 'Z')} ({_relative(delta)})"


def describe_duration(seconds: float) -> str:
    """A length of time as a person reads it: "42 s", "5 min", "1.5 h"."""
    amount = abs(seconds)
    if amount < 60:
        return f"{amount:.0f} s"
    if amount < 3600:
        return f"{amount / 60:.0f} min"
    if amount < 86400:
        return f"{amount / 3600:.1f} h"
    return f"{amount / 86400:.1f} days"


def _relative(seconds: float) -> str:
    text = describe_duration(seconds)
    return f"in {text}" if seconds >= 0 else f"{text} ago"

"""Moments as a person reads them: ISO 8601 in UTC and a distance from now; never an epoch number."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def describe_time(epoch_seconds: float, now: float | None = None) -> str:
    """A moment as a person reads it: ISO 8601 in UTC, and how far it is from now ("in 42 min")."""
    moment = datetime.fromtimestamp(epoch_seconds, UTC).replace(microsecond=0)
    delta = epoch_seconds - (time.time() if now is None else now)
    return f"{moment.isoformat().replace('+00:00', 'Z')} ({_relative(delta)})"


def _relative(seconds: float) -> str:
    amount = abs(seconds)
    if amount < 60:
        text = f"{amount:.0f} s"
    elif amount < 3600:
        text = f"{amount / 60:.0f} min"
    elif amount < 86400:
        text = f"{amount / 3600:.1f} h"
    else:
        text = f"{amount / 86400:.1f} days"
    return f"in {text}" if seconds >= 0 else f"{text} ago"

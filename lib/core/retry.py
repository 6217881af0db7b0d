"""The one backoff rule for everything retried (mail, webhook delivery): doubling, capped."""

from __future__ import annotations

from datetime import timedelta

MAX_DELAY_SECONDS = 600.0


def backoff(attempts: int, base_seconds: float, cap_seconds: float = MAX_DELAY_SECONDS) -> timedelta:
    """Delay before the next try after `attempts` failed ones: base, 2*base, 4*base, ... up to the cap."""
    exponent = max(0, attempts - 1)
    return timedelta(seconds=min(cap_seconds, base_seconds * (2 ** min(exponent, 30))))

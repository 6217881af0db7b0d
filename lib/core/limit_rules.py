"""What the abuse limits are and whom they count (a requester's email, a client address); the counting,
atomic in the database, is lib/services/limits.py."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    requests_per_hour: int = 20
    unconfirmed: int = 5
    running: int = 3


class LimitExceeded(Exception):
    """A limit was hit; the message tells the user which and what to do."""


def keys_for(email: str, client_id: str) -> list[str]:
    return sorted({f"email:{email.lower()}"} | ({f"client:{client_id}"} if client_id else set()))

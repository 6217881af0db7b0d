"""What the abuse limits are and whom they count (a requester's email, a client address); the counting,
atomic in the database, is lib/services/limits.py."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    requests_per_hour: int = 20
    unconfirmed: int = 5
    running: int = 3
    plus_tag_domains: tuple[str, ...] = ()  # mail domains where a+tag@d is a@d ("*": every domain)

    def ignores_plus_tag(self, domain: str) -> bool:
        return "*" in self.plus_tag_domains or domain.lower() in {d.lower() for d in self.plus_tag_domains}


def canonical_email(email: str, limits: Limits = Limits()) -> str:
    """The mailbox an address reaches, for counting: case folded, and `+tag` dropped for the domains that
    ignore it, so Ana@x and ana+2@x share one limit."""
    local, _, domain = email.strip().lower().rpartition("@")
    if not local:
        return email.strip().lower()
    if limits.ignores_plus_tag(domain):
        local = local.split("+", 1)[0] or local
    return f"{local}@{domain}"


def client_address(peer: str, forwarded_for: list[str], trusted_hops: int) -> str:
    """The client's address: the TCP peer, or, behind `trusted_hops` proxies that each append the address they
    saw to X-Forwarded-For, the entry that the farthest trusted proxy wrote. Entries further left are the
    client's own claims and never trusted; a malformed entry falls back to the peer."""
    if trusted_hops <= 0:
        return peer
    hops = [h.strip() for header in forwarded_for for h in header.split(",") if h.strip()]
    if not hops:
        return peer
    candidate = hops[-trusted_hops] if len(hops) >= trusted_hops else hops[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return peer


class LimitExceeded(Exception):
    """A limit was hit; the message tells the user which and what to do."""


def keys_for(email: str, client_id: str, limits: Limits = Limits()) -> list[str]:
    return sorted({f"email:{canonical_email(email, limits)}"} | ({f"client:{client_id}"} if client_id else set()))

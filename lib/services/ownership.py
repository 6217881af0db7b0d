"""Ownership proof: before scanning a domain that is not allowlisted, the requester shows they control it by
publishing a token at `/.well-known/scanboard-verification.txt` on the target, or in the DNS TXT record
`_scanboard-verification.<host>`. Confirmed scans wait (status awaiting_ownership) until one of the two shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import dns.exception
import dns.resolver
import requests
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.models import AWAITING_OWNERSHIP, FAILED, QUEUED, Scan, utcnow
from lib.core.ownership_rules import TXT_PREFIX, well_known_url
from lib.core.scope import Resolver, ScopeError, ScopePolicy, check_url, system_resolver
from lib.scanners.pinned_http import pinned_session

MAX_BODY = 4096


@dataclass(frozen=True)
class Proof:
    ok: bool
    detail: str


def instructions(target: str, token: str) -> str:
    host = urlsplit(target).hostname or ""
    return (
        f"Prove that you control {host} in one of two ways:\n"
        f"  1. Serve a file at {well_known_url(target)} containing the line\n     {token}\n"
        f"  2. Or add a DNS TXT record {TXT_PREFIX}{host} with the value\n     {token}\n"
        f"The scan starts as soon as either is found; it is checked every minute."
    )


def check_well_known(
    target: str, token: str, policy: ScopePolicy, timeout: float = 5.0, resolve: Resolver = system_resolver
) -> Proof:
    url = well_known_url(target)
    try:
        decision = check_url(url, policy, resolve)  # the host may resolve elsewhere by now
        with pinned_session(decision.target, decision.addresses[0]) as session:  # to the vetted address only
            resp = session.get(decision.url, timeout=timeout, allow_redirects=False, stream=True)
            body = resp.raw.read(MAX_BODY, decode_content=True).decode("utf-8", "replace")
            resp.close()
    except (ScopeError, requests.RequestException) as e:
        return Proof(False, f"{url} could not be fetched ({type(e).__name__})")
    if resp.status_code != 200:
        return Proof(False, f"{url} answered {resp.status_code}")
    if token not in body.split():
        return Proof(False, f"{url} does not contain the token")
    return Proof(True, f"token found at {url}")


def check_dns(host: str, token: str, resolver: dns.resolver.Resolver | None = None) -> Proof:
    name = f"{TXT_PREFIX}{host}"
    try:
        answer = (resolver or dns.resolver.Resolver()).resolve(name, "TXT", lifetime=5.0)
    except dns.exception.DNSException as e:
        return Proof(False, f"no TXT record {name} ({type(e).__name__})")
    values = {b"".join(r.strings).decode("utf-8", "replace") for r in answer}
    if token in values:
        return Proof(True, f"token found in TXT {name}")
    return Proof(False, f"TXT {name} does not hold the token")


def prove(
    target: str,
    token: str,
    policy: ScopePolicy,
    resolver: dns.resolver.Resolver | None = None,
    resolve: Resolver = system_resolver,
) -> Proof:
    """Either proof will do; the details of both are kept for the user when neither is there."""
    web = check_well_known(target, token, policy, resolve=resolve)
    if web.ok:
        return web
    txt = check_dns(urlsplit(target).hostname or "", token, resolver)
    return txt if txt.ok else Proof(False, f"{web.detail}; {txt.detail}")


def verify_waiting(
    sessions: sessionmaker[Session],
    check: Callable[[str, str], Proof],
    give_up_after: timedelta,
    now: datetime | None = None,
) -> list[str]:
    """Check every scan waiting for its ownership proof; queue the proven ones (their ids are returned), fail
    those waiting longer than `give_up_after`, and note why the others still wait."""
    now = now or utcnow()
    with sessions() as s:
        waiting = list(s.scalars(select(Scan).where(Scan.status == AWAITING_OWNERSHIP)))
    proven = []
    for scan in waiting:
        proof = check(scan.target, scan.ownership_token)
        values: dict = {"status_reason": f"waiting for the ownership proof: {proof.detail}"}
        if proof.ok:
            values = {"status": QUEUED, "ownership_verified_at": now, "status_reason": proof.detail}
            proven.append(scan.id)
        elif scan.confirmed_at and now - scan.confirmed_at > give_up_after:
            values = {
                "status": FAILED,
                "finished_at": now,
                "status_reason": f"ownership was not proven within {give_up_after}: {proof.detail}",
            }
        with sessions.begin() as s:
            s.execute(update(Scan).where(Scan.id == scan.id, Scan.status == AWAITING_OWNERSHIP).values(**values))
    return proven

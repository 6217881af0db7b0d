"""Callbacks of API scans: once a scan with a `callback_url` has finished, POST its final status there.

The URL passed the scope policy when the scan was asked for and is checked again before each attempt (its host
may resolve elsewhere by now); the POST then connects to the address that check approved, never resolving the
name again (a rebinding name server cannot send it elsewhere), ignores proxy settings and follows no redirect.
A callback that got any HTTP answer is done; one that could not connect is tried again on the next pass, for at
most GIVE_UP_AFTER after the scan finished.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import requests
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.models import FINAL_STATUSES, Scan, utcnow
from lib.core.scope import ScopeDecision, ScopeError, ScopePolicy, check_url
from lib.scanners.pinned_http import pinned_session

GIVE_UP_AFTER = timedelta(hours=1)
Post = Callable[[ScopeDecision, dict[str, Any]], int]  # vetted URL, JSON body -> status (raises OSError/...)


def http_post(decision: ScopeDecision, body: dict[str, Any]) -> int:
    """POST to the first vetted address of the callback's host, with its name in Host and TLS SNI."""
    with pinned_session(decision.target, decision.addresses[0]) as session:
        resp = session.post(decision.url, json=body, timeout=5)
        resp.close()
        return resp.status_code


def payload(scan: Scan, public_base_url: str) -> dict[str, Any]:
    base = public_base_url.rstrip("/")
    return {
        "event": "scan.finished",
        "id": scan.id,
        "target": scan.target,
        "status": scan.status,
        "status_reason": scan.status_reason,
        "counts": scan.severity_counts or {},
        "diff_counts": scan.diff_counts or {},
        "finished_at": scan.finished_at.isoformat() if scan.finished_at else None,
        "page": f"{base}/progress?scan={scan.id}",
    }


def deliver_due(
    sessions: sessionmaker[Session],
    policy: ScopePolicy,
    public_base_url: str,
    post: Post = http_post,
    now: datetime | None = None,
) -> list[str]:
    """POST the callbacks of finished scans not yet delivered; returns the ids whose callback is now done."""
    now = now or utcnow()
    with sessions() as s:
        due = list(
            s.scalars(
                select(Scan).where(
                    Scan.callback_url != "", Scan.callback_sent_at.is_(None), Scan.status.in_(FINAL_STATUSES)
                )
            )
        )
    done = []
    for scan in due:
        if _attempt(scan, policy, public_base_url, post) or now - (scan.finished_at or now) > GIVE_UP_AFTER:
            with sessions.begin() as s:
                s.execute(update(Scan).where(Scan.id == scan.id).values(callback_sent_at=now))
            done.append(scan.id)
    return done


def _attempt(scan: Scan, policy: ScopePolicy, public_base_url: str, post: Post) -> bool:
    """True when the callback got an answer (or can never be sent: refused by the scope policy now)."""
    try:
        decision = check_url(scan.callback_url, policy)
    except ScopeError:
        return True
    try:
        post(decision, payload(scan, public_base_url))
    except (OSError, requests.RequestException):
        return False
    return True

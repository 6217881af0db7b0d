"""Sending notifications: stored first (table notification_deliveries), then posted, retried with backoff by
the same loop as mail (lib/adapters/outbox.py). Webhook URLs are credentials: they never appear in a log line
or a stored error, and every post goes without redirects, with a timeout, to a URL that passes the scope policy
again at sending time (DNS may have changed since the rule was made)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.mail import Mailer
from lib.adapters.models import Delivery, NotificationRule
from lib.adapters.outbox import RetryQueue
from lib.core.notifications import SIGNATURE_HEADER, TIMESTAMP_HEADER, body_bytes, destination_policy, signature
from lib.core.scope import Resolver, ScopeError, ScopePolicy, check_url, system_resolver
from lib.scanners.pinned_http import pinned_session


class DeliveryFailed(Exception):
    """A post that did not go through; the message names the host only, never the URL."""


@dataclass(frozen=True)
class HttpSender:
    signing_secret: Callable[[], str]
    policy: ScopePolicy
    timeout: float = 10.0
    clock: Callable[[], float] = time.time
    resolve: Resolver = system_resolver

    def headers(self, channel: str, body: bytes) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": "scanboard-notify"}
        if channel == "webhook":
            ts = str(int(self.clock()))
            headers[TIMESTAMP_HEADER] = ts
            headers[SIGNATURE_HEADER] = signature(self.signing_secret(), ts, body)
        return headers

    def send(self, channel: str, url: str, payload: dict[str, Any]) -> None:
        host = urlsplit(url).hostname or "?"
        try:
            decision = check_url(url, destination_policy(self.policy), self.resolve)
        except ScopeError as e:
            raise DeliveryFailed(f"{host} refused by the scope policy: {e}") from None
        body = body_bytes(payload)
        try:  # to the address just vetted (a rebinding DNS server cannot redirect the post), no redirects
            with pinned_session(decision.target, decision.addresses[0]) as session:
                resp = session.post(decision.url, data=body, headers=self.headers(channel, body), timeout=self.timeout)
                resp.close()
        except (requests.RequestException, ValueError) as e:
            raise DeliveryFailed(f"{host} could not be reached ({type(e).__name__})") from None
        if not 200 <= resp.status_code < 300:
            raise DeliveryFailed(f"{host} answered HTTP {resp.status_code}")


class Notifier:
    """Stored deliveries and their sending; email deliveries are handed to the mailer (its own retries)."""

    def __init__(self, sessions: sessionmaker[Session], sender: HttpSender, mailer: Mailer, retry_seconds: float):
        self.sessions = sessions
        self.sender = sender
        self.mailer = mailer
        self.queue: RetryQueue[Delivery] = RetryQueue(sessions, Delivery, retry_seconds, "notification")

    def _send(self, delivery: Delivery) -> None:
        with self.sessions() as s:
            rule = s.get(NotificationRule, delivery.rule_id)
        if rule is None:
            raise DeliveryFailed("its rule was deleted")
        p = delivery.payload
        if rule.channel == "email":
            self.mailer.enqueue("notify", rule.destination, p["subject"], p["body"], scan_id=delivery.scan_id)
        else:
            self.sender.send(rule.channel, rule.destination, p)

    def attempt(self, delivery_id: int, now: datetime | None = None) -> bool:
        return self.queue.attempt(delivery_id, self._send, now)

    def retry_due(self, now: datetime | None = None) -> int:
        return self.queue.retry_due(self._send, now)

    def waiting(self, scan_id: str = "") -> list[Delivery]:
        return self.queue.waiting(**({"scan_id": scan_id} if scan_id else {}))

"""Mail that is never lost: every message is stored before it is sent, a failed send is retried with backoff,
and with no SMTP configured messages land in the outbox the UI shows."""

from __future__ import annotations

import html
import logging
import re
import ssl
from dataclasses import dataclass, field
from datetime import datetime
from ssl import SSLContext  # the field `ssl` below shadows the module in the class's annotations
from typing import Protocol

import yagmail
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.models import MAIL_OUTBOX, MAIL_PENDING, Message, utcnow
from lib.adapters.outbox import SENDING, RetryQueue
from lib.config import Settings

log = logging.getLogger(__name__)
MAIL_SENDING = SENDING


_URL = re.compile(r"https?://[^\s<>\"]+")


def as_html(text: str) -> str:
    """Plain text as HTML with its links clickable (yagmail turns the newlines into <br>)."""
    out, last = [], 0
    for m in _URL.finditer(text):
        out.append(html.escape(text[last : m.start()]))
        url = html.escape(m.group(0))
        out.append(f'<a href="{url}">{url}</a>')
        last = m.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


class Transport(Protocol):
    def send(self, to: str, subject: str, body: str) -> None:
        """Hand one message to the mail system; raise on failure."""


@dataclass(frozen=True)
class SmtpTransport:
    """yagmail over SMTP: implicit TLS, STARTTLS or plain, with login when a user is configured."""

    host: str
    port: int
    sender: str
    user: str = ""
    password: str = field(default="", repr=False)  # from SMTP_PASSWORD; never in a repr or a log line
    starttls: bool = True
    ssl: bool = False
    ca_file: str = ""  # trust this CA (e.g. a private relay's) instead of the system store
    timeout: float = 30.0

    @classmethod
    def from_settings(cls, s: Settings) -> SmtpTransport:
        pw = s.smtp_password.get_secret_value() if s.smtp_password else ""
        return cls(s.smtp_host, s.smtp_port, s.mail_from, s.smtp_user, pw, s.smtp_starttls, s.smtp_ssl, s.smtp_ca_file)

    def _tls_context(self) -> SSLContext:
        return ssl.create_default_context(cafile=self.ca_file or None)

    def send(self, to: str, subject: str, body: str) -> None:
        # yagmail appends @gmail.com to a user without "@": always hand it a full address.
        user = self.user if "@" in self.user else self.sender
        smtp = yagmail.SMTP(
            user=user,
            password=self.password or None,
            host=self.host,
            port=self.port,
            smtp_starttls={"context": self._tls_context()} if self.starttls else False,
            smtp_ssl=self.ssl,
            smtp_skip_login=not self.user,
            soft_email_validation=False,
            timeout=self.timeout,
        )
        try:
            smtp.send(to=to, subject=subject, contents=[as_html(body)])
        finally:
            smtp.close()


class Mailer:
    def __init__(self, sessions: sessionmaker[Session], transport: Transport | None, retry_seconds: float) -> None:
        self.sessions = sessions
        self.transport = transport  # None: the outbox is the delivery
        self.retry_seconds = retry_seconds
        self.queue = RetryQueue(sessions, Message, retry_seconds, "mail")

    @property
    def uses_outbox(self) -> bool:
        return self.transport is None

    def enqueue(self, kind: str, to: str, subject: str, body: str, link: str = "", scan_id: str = "") -> int:
        """Store the message, then try to send it once now; later tries are the retry loop's. A scan's mail
        of one kind is stored once (key "<scan>:<kind>"): a second enqueue, from another replica or step,
        returns the first message's id and sends nothing."""
        status = MAIL_OUTBOX if self.transport is None else MAIL_PENDING
        key = f"{scan_id}:{kind}" if scan_id else None
        msg = Message(
            scan_id=scan_id,
            kind=kind,
            to_addr=to,
            subject=subject,
            body=body,
            link=link,
            status=status,
            sent_at=utcnow() if status == MAIL_OUTBOX else None,
            idempotency_key=key,
        )
        try:
            with self.sessions.begin() as s:
                s.add(msg)
                s.flush()
                msg_id = msg.id
        except IntegrityError:
            with self.sessions() as s:
                existing = s.scalar(select(Message.id).where(Message.idempotency_key == key))
            if existing is None:
                raise
            log.info("the %s mail of scan %s is already stored (message %s): not stored twice", kind, scan_id, existing)
            return existing
        if self.transport is not None:
            self.attempt(msg_id)
        return msg_id

    def _send(self, msg: Message) -> None:
        if self.transport is None:
            raise RuntimeError("no SMTP server configured")
        self.transport.send(msg.to_addr, msg.subject, msg.body)

    def attempt(self, msg_id: int, now: datetime | None = None) -> bool:
        """Try to send one stored message; True when it went out."""
        return self.transport is not None and self.queue.attempt(msg_id, self._send, now)

    def retry_due(self, now: datetime | None = None) -> int:
        """Send every stored message whose next try is due; the number that went out."""
        return 0 if self.transport is None else self.queue.retry_due(self._send, now)

    def status(self, msg_id: int) -> str:
        with self.sessions() as s:
            return s.scalar(select(Message.status).where(Message.id == msg_id)) or ""

    def messages(self, limit: int = 200, scan_id: str = "", to: str | None = None) -> list[Message]:
        """Newest first; of one scan if given; only those addressed to `to` (case-insensitive) unless None."""
        with self.sessions() as s:
            q = select(Message).order_by(Message.id.desc()).limit(limit)
            if scan_id:
                q = q.where(Message.scan_id == scan_id)
            if to is not None:
                q = q.where(func.lower(Message.to_addr) == to.strip().lower())
            return list(s.scalars(q))

    def waiting(self, scan_id: str = "") -> list[Message]:
        """Messages stored but not yet delivered, with their last error (of one scan, if given)."""
        return self.queue.waiting(**({"scan_id": scan_id} if scan_id else {}))

"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives; optionally STARTTLS + AUTH, and it
can be stopped and started again on the same port to test that mail waits and is retried."""

from __future__ import annotations

import email
import email.policy
import html
import re
import socket
import ssl
import threading
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.messages.append(msg)
        return "250 OK"


class SmtpServer:
    def __init__(
        self, tls_cert: Path | None = None, tls_key: Path | None = None, credentials: tuple[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.handler = _Handler()
        self.tls_cert, self.tls_key, self.credentials = tls_cert, tls_key, credentials
        self.controller: Controller | None = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and self.credentials is not None
            and (auth_data.login.decode(), auth_data.password.decode()) == self.credentials
        )
        return AuthResult(success=ok, handled=False)  # handled=False, or the client hangs (FIELD-NOTES)

    def start(self) -> SmtpServer:
        kwargs: dict = {}
        if self.tls_cert is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(self.tls_cert, self.tls_key)
            kwargs.update(tls_context=ctx, require_starttls=True)
        if self.credentials is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        with self.handler.lock:
            return list(self.handler.messages)


def links(msg: EmailMessage) -> list[str]:
    """The targets of the links in a message's HTML body, in order."""
    part = msg.get_body(preferencelist=("html",))
    return [html.unescape(h) for h in re.findall(r'href="([^"]+)"', part.get_content() if part else "")]


def body_text(msg: EmailMessage) -> str:
    """The message's plain-text body (or its HTML part when there is no plain one)."""
    part = msg.get_body(preferencelist=("plain", "html"))
    return part.get_content() if part is not None else ""

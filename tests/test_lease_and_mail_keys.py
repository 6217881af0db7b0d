"""The two guards replicas rely on, on their own: a lease has one holder at a time and passes on when it expires
or is released; a scan's mail of one kind is stored (and sent) once, whoever enqueues it."""

from __future__ import annotations

from datetime import timedelta

from lib.adapters.db import make_engine, migrate, session_factory
from lib.adapters.lease import Lease
from lib.adapters.mail import Mailer, SmtpTransport
from lib.adapters.models import utcnow
from tests.smtp_server import SmtpServer


def sessions_at(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    migrate(engine)
    return session_factory(engine)


def test_one_holder_at_a_time_until_expiry_or_release(tmp_path) -> None:
    sessions = sessions_at(tmp_path)
    a, b = Lease(sessions, "argo-sync", 10), Lease(sessions, "argo-sync", 10)
    now = utcnow()
    assert a.hold(now) and not b.hold(now)
    assert a.hold(now + timedelta(seconds=8)) and not b.hold(now + timedelta(seconds=12))  # renewed at 8 s
    assert b.hold(now + timedelta(seconds=19))  # a stopped renewing: b takes over after the ttl
    assert not a.hold(now + timedelta(seconds=20))
    b.release()
    assert a.hold()  # a clean stop hands over at once
    assert Lease(sessions, "sampler", 10).hold()  # each duty has its own lease


def test_a_scans_report_mail_is_stored_and_sent_once(tmp_path, smtp: SmtpServer) -> None:
    sessions = sessions_at(tmp_path)
    transport = SmtpTransport("127.0.0.1", smtp.port, "scanboard@portal.test", starttls=False)
    first = Mailer(sessions, transport, 0.2)
    second = Mailer(sessions, transport, 0.2)  # another replica, or the Workflow's notify step
    ids = {m.enqueue("report", "ana@example.com", "ready", "body", scan_id="abc123abc123") for m in (first, second)}
    assert len(ids) == 1 and len(first.messages()) == 1
    assert len(smtp.messages) == 1
    first.enqueue("confirm", "ana@example.com", "confirm", "body", scan_id="abc123abc123")  # another kind
    first.enqueue("report", "ana@example.com", "ready", "body", scan_id="def456def456")  # another scan
    assert len(first.messages()) == 3

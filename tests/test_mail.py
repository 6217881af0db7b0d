"""Mail is stored before it is sent, goes over real SMTP (plain, or STARTTLS with login), and a send that
fails while the server is down is retried and delivered once it is back."""

from __future__ import annotations

from lib.adapters.db import make_engine, migrate, session_factory
from lib.adapters.mail import Mailer, SmtpTransport
from lib.adapters.models import MAIL_OUTBOX, MAIL_RETRYING, MAIL_SENT
from testkit.targets import make_self_signed
from tests.conftest import wait_until
from tests.smtp_server import SmtpServer, body_text, links


def mailer(tmp_path, transport) -> Mailer:
    engine = make_engine(f"sqlite:///{tmp_path / 'mail.db'}")
    migrate(engine)
    return Mailer(session_factory(engine), transport, retry_seconds=0.2)


def test_without_smtp_messages_land_in_the_outbox(tmp_path) -> None:
    m = mailer(tmp_path, None)
    m.enqueue("confirm", "ana@example.com", "Confirm", "open http://x/confirm?token=t", link="http://x/confirm?token=t")
    [msg] = m.messages()
    assert (msg.status, msg.link, msg.to_addr) == (MAIL_OUTBOX, "http://x/confirm?token=t", "ana@example.com")


def test_plain_smtp_delivers_subject_body_and_link(tmp_path, smtp) -> None:
    m = mailer(tmp_path, SmtpTransport("127.0.0.1", smtp.port, "scanboard@portal.test", starttls=False))
    m.enqueue("report", "ana@example.com", "Your report", "Download: http://portal.test/reports?scan=abc")
    [received] = smtp.messages
    assert received["Subject"] == "Your report" and "ana@example.com" in received["To"]
    assert links(received) == ["http://portal.test/reports?scan=abc"]
    assert "Download:" in body_text(received)
    assert m.messages()[0].status == MAIL_SENT


def test_starttls_with_login(tmp_path) -> None:
    cert, key = make_self_signed(tmp_path, "localhost")
    server = SmtpServer(tls_cert=cert, tls_key=key, credentials=("mailer@portal.test", "pw-from-env")).start()
    try:
        transport = SmtpTransport(
            "localhost",
            server.port,
            "scanboard@portal.test",
            user="mailer@portal.test",
            password="pw-from-env",
            starttls=True,
            ca_file=str(cert),
        )
        m = mailer(tmp_path, transport)
        m.enqueue("confirm", "ana@example.com", "Confirm", "link")
        assert len(server.messages) == 1 and m.messages()[0].status == MAIL_SENT
        bad = SmtpTransport(
            "localhost",
            server.port,
            "scanboard@portal.test",
            user="mailer@portal.test",
            password="wrong",
            starttls=True,
            ca_file=str(cert),
        )
        (tmp_path / "other").mkdir()
        m2 = mailer(tmp_path / "other", bad)
        m2.enqueue("confirm", "ana@example.com", "Confirm", "link")
        assert m2.messages()[0].status == MAIL_RETRYING and "Authentication" in m2.messages()[0].last_error
    finally:
        server.stop()


def test_mail_survives_an_smtp_outage(tmp_path, smtp) -> None:
    m = mailer(tmp_path, SmtpTransport("127.0.0.1", smtp.port, "scanboard@portal.test", starttls=False))
    smtp.stop()
    m.enqueue("confirm", "ana@example.com", "Confirm", "http://portal.test/confirm?token=t")
    [msg] = m.waiting()
    assert msg.status == MAIL_RETRYING and msg.last_error  # kept, shown as waiting with the reason
    smtp.start()  # same port
    wait_until(lambda: m.retry_due() or not m.waiting(), timeout=10)
    assert [x.status for x in m.messages()] == [MAIL_SENT]
    assert len(smtp.messages) == 1

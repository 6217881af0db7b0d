"""Secrets come from the environment and never reach a log line, a stored error or a settings repr, even when
the systems they unlock refuse them."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

from lib.adapters.webhook import Webhook, WebhookError
from lib.config import Settings
from lib.core.pipeline import WebhookPayload
from lib.runtime import build_runtime
from lib.services.intake import confirm, submit
from testkit.targets import http_target, make_self_signed
from tests.conftest import wait_until
from tests.smtp_server import SmtpServer
from tests.webhook_server import WebhookServer

SMTP_PASSWORD = "smtp-pw-Zq8rT4vX1kLm"
JWT_SECRET = "jwt-secret-Hn3Pq9sW2eRt6Yu8Io0Pa5Sd"
WEBHOOK_TOKEN = "webhook-token-Kj7Gh5Fd3Sa1Lp9Ok2"
SECRETS = (SMTP_PASSWORD, JWT_SECRET, WEBHOOK_TOKEN)


def test_secrets_stay_out_of_logs_and_stored_errors(make_settings, monkeypatch, tmp_path, caplog, capfd) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("SCANBOARD_SECRET_KEY", JWT_SECRET)
    monkeypatch.setenv("ARGO_WEBHOOK_TOKEN", WEBHOOK_TOKEN)
    cert, key = make_self_signed(tmp_path, "localhost")
    smtp = SmtpServer(tls_cert=cert, tls_key=key, credentials=("mailer@portal.test", "another-password")).start()
    settings = make_settings(
        smtp_host="localhost", smtp_port=smtp.port, smtp_user="mailer@portal.test", smtp_ca_file=str(cert)
    )
    assert settings.smtp_password.get_secret_value() == SMTP_PASSWORD  # read from the environment
    rt = build_runtime(settings).start()
    try:
        with http_target() as port:
            out = submit(rt, f"http://127.0.0.1:{port}/", "ana@example.com", {"web": {}})
            msg = rt.mailer.messages()[0]
            assert msg.status == "retrying" and "Authentication" in msg.last_error  # the relay refused the login
            assert confirm(rt, parse_qs(urlsplit(msg.link).query)["token"][0]).ok
            wait_until(lambda: rt.engine.progress(out.scan_id).finished, timeout=60)
        hook = WebhookServer(token="the-real-token").start()
        try:
            Webhook(hook.url, WEBHOOK_TOKEN).deliver(WebhookPayload(out.scan_id, {}))
        except WebhookError as e:
            logging.getLogger("test").warning("delivery failed: %s", e)
        finally:
            hook.stop()
    finally:
        rt.stop()
        smtp.stop()
    stored = [m.last_error + m.body for m in rt.mailer.messages()]
    out_err = capfd.readouterr()
    everything = "\n".join([caplog.text, out_err.out, out_err.err, repr(settings), str(settings), *stored])
    assert "Authentication" in everything  # the failures were logged...
    for secret in SECRETS:
        assert secret not in everything  # ...without the secrets


def test_settings_repr_hides_secrets(monkeypatch) -> None:
    monkeypatch.setenv("SCANBOARD_SECRET_KEY", JWT_SECRET)
    monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
    s = Settings(_env_file=None)
    assert JWT_SECRET not in repr(s) and SMTP_PASSWORD not in repr(s) and "**********" in repr(s)

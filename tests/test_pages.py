"""Every page under Streamlit's AppTest, with the app's real runtime on a temporary data dir."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from lib.adapters.models import utcnow
from lib.adapters.triage_store import marks_for_host
from lib.services.intake import submit
from testkit.targets import http_target
from tests.conftest import wait_until
from ui.runtime import get_runtime

APP = Path(__file__).resolve().parents[1] / "app.py"


@pytest.fixture
def app(make_settings, monkeypatch):
    """An AppTest of app.py whose runtime uses a fresh data dir; the runtime is stopped afterwards."""
    settings = make_settings()
    monkeypatch.setenv("SCANBOARD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://portal.test")
    monkeypatch.setenv("RETRY_SECONDS", "0.2")
    get_runtime.clear()
    at = AppTest.from_file(str(APP), default_timeout=30)
    yield at
    get_runtime().stop()
    get_runtime.clear()


def shown(markdown: str) -> str:
    """The text a Markdown source shows, for sources that escape what users and targets wrote."""
    return re.sub(r"\\(.)", r"\1", markdown)


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def fill(at: AppTest, target: str, email: str) -> AppTest:
    at.text_input(key="target").input(target)
    at.text_input(key="email").input(email)
    at.button[0].click()
    return at.run()


def test_new_scan_shows_errors_at_fields_and_stores_nothing(app) -> None:
    app.run()
    fill(app, "not a url", "nobody")
    assert not app.exception
    errors = [shown(e.value) for e in app.error]
    assert any("http://" in e for e in errors) and any("email" in e for e in errors)
    assert any("not stored" in e for e in errors)
    assert get_runtime().mailer.messages() == []


def test_new_scan_stores_request_and_mails_the_link_to_the_outbox(app) -> None:
    app.run()
    fill(app, "http://127.0.0.1:9/", "ana@example.com")
    assert not app.exception and not app.error
    [msg] = get_runtime().mailer.messages()
    assert msg.kind == "confirm" and msg.link.startswith("http://portal.test/confirm?token=")
    assert msg.scan_id in app.success[0].value
    app.switch_page("views/outbox.py").run()
    assert not app.exception
    assert any(msg.link in m.value for m in app.markdown)


def confirm_page(app: AppTest, token: str) -> AppTest:
    app.query_params["token"] = token
    return app.switch_page("views/confirm.py").run()


def test_confirm_good_then_used_link(app) -> None:
    app.run()
    with http_target() as port:
        out = submit(get_runtime(), f"http://127.0.0.1:{port}/", "ana@example.com", {"web": {}})
        token = token_of(get_runtime().mailer.messages()[0].link)
        confirm_page(app, token)
        assert not app.exception
        assert app.query_params["scan"] == out.scan_id  # switched to the progress page of this scan
        assert app.title[0].value == "Scan progress"
        wait_until(lambda: get_runtime().engine.progress(out.scan_id).finished, timeout=60)
        again = AppTest.from_file(str(APP), default_timeout=30).run()
        confirm_page(again, token)
        assert not again.exception
        assert "Already confirmed" in again.info[0].value
        assert [p for p in again.get("page_link") if out.scan_id in p.proto.label]


def test_confirm_expired_and_tampered_links(app) -> None:
    app.run()
    rt = get_runtime()
    submit(rt, "http://127.0.0.1:9/", "ana@example.com", {"web": {}}, now=utcnow() - timedelta(hours=25))
    confirm_page(app, token_of(rt.mailer.messages()[0].link))
    assert not app.exception and "expired" in app.warning[0].value
    confirm_page(app, token_of(rt.mailer.messages()[0].link)[:-3] + "AAA")
    assert not app.exception and "altered" in app.error[0].value
    confirm_page(app, "garbage")
    assert not app.exception and app.error


def test_progress_reports_and_history_show_a_finished_scan(app) -> None:
    app.run()
    rt = get_runtime()
    with http_target() as port:
        out = submit(rt, f"http://127.0.0.1:{port}/", "ana@example.com", {"web": {}})
        confirm_page(app, token_of(rt.mailer.messages()[0].link))
        wait_until(lambda: rt.engine.progress(out.scan_id).finished, timeout=60)
    app.query_params["scan"] = out.scan_id
    app.switch_page("views/progress.py").run()
    assert not app.exception
    assert "succeeded" in app.get("progress")[0].proto.text
    assert [m.value for m in app.metric] and app.dataframe
    findings = app.dataframe[-1].value
    assert "Content-Security-Policy header missing" in set(findings["finding"])
    # triage from the page: a false positive on this host's CSP finding, recorded with who and when
    pick = next(s for s in app.selectbox if s.label == "Finding")
    csp = next(i for i in pick.options if "Content-Security-Policy" in i)
    pick.set_value(pick.options.index(csp))
    app.radio[0].set_value("false_positive")
    app.text_input[0].input("internal tool, CSP enforced by the proxy")
    next(b for b in app.button if b.label == "Record").click()
    app.run()
    assert not app.exception and any("Recorded" in m.value and "False positive" in m.value for m in app.success)
    marks = marks_for_host(rt.sessions, "127.0.0.1")
    assert [m.state for m in marks.values()] == ["false_positive"]
    app.switch_page("views/reports.py").run()
    assert not app.exception
    assert any("report.pdf" in b.proto.label for b in app.get("download_button"))
    app.switch_page("views/history.py").run()
    assert not app.exception
    assert out.scan_id in set(app.dataframe[0].value["scan"])


def test_progress_of_unknown_scan_is_a_message(app) -> None:
    app.run()
    app.query_params["scan"] = "doesnotexist"
    app.switch_page("views/progress.py").run()
    assert not app.exception and "no scan with id" in app.error[0].value


def test_cluster_page_in_embedded_mode_shows_the_worker_pool(app) -> None:
    app.run()
    app.switch_page("views/cluster.py").run()
    assert not app.exception
    assert "No Kubernetes cluster" in app.info[0].value
    assert {m.label for m in app.metric} >= {"Workers busy", "Workers idle", "Scans queued"}


def test_progress_page_says_which_mail_is_waiting_and_why(make_settings, monkeypatch, smtp) -> None:
    settings = make_settings()
    for k, v in {
        "SCANBOARD_DATA_DIR": str(settings.data_dir),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_STARTTLS": "false",
        "RETRY_SECONDS": "60",
    }.items():
        monkeypatch.setenv(k, v)
    smtp.stop()  # the mail server is down when the request comes in
    get_runtime.clear()
    at = AppTest.from_file(str(APP), default_timeout=30)
    try:
        at.run()
        out = submit(get_runtime(), "http://127.0.0.1:9/", "ana@example.com", {"web": {}})
        at.query_params["scan"] = out.scan_id
        at.switch_page("views/progress.py").run()
        assert not at.exception
        assert any(
            "confirm email to ana@example.com is not sent yet" in shown(w.value) and "retried" in w.value
            for w in at.warning
        )
    finally:
        get_runtime().stop()
        get_runtime.clear()

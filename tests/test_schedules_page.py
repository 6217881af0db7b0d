"""The Schedules page under Streamlit's AppTest with the app's real runtime: an empty state that says what to do,
field errors for a bad schedule, then create (with a masked webhook), pause, resume, delete."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib.services.notifications import add_rule, evaluate_finished
from lib.services.schedules import list_schedules
from tests.notify_receiver import Receiver
from tests.test_notifications import finished_scan
from ui.runtime import get_runtime

APP = Path(__file__).resolve().parents[1] / "app.py"


@pytest.fixture
def app(make_settings, monkeypatch):
    settings = make_settings()
    monkeypatch.setenv("SCANBOARD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://portal.test")
    get_runtime.clear()
    at = AppTest.from_file(str(APP), default_timeout=30)
    yield at
    get_runtime().stop()
    get_runtime.clear()


@pytest.fixture
def site():
    r = Receiver()
    yield r
    r.close()


def page(app: AppTest) -> AppTest:
    app.run()
    return app.switch_page("views/schedules.py").run()


def fill(app: AppTest, **values: object) -> AppTest:
    for key, value in values.items():
        widget = app.selectbox(key=key) if key in ("s_preset", "s_channel", "s_event") else app.text_input(key=key)
        widget.set_value(value)
    app.button(key="FormSubmitter:new_schedule-Create schedule").click()
    return app.run()


def test_empty_state_then_errors_next_to_fields(app) -> None:
    page(app)
    assert not app.exception
    assert any("No schedules yet" in i.value for i in app.info)
    fill(app, s_target="not a url", s_email="ana@example.com", s_preset="cron", s_cron="* * * * *", s_tz="Nowhere/City")
    # the messages are Markdown-escaped (they may quote what was typed): read them as they render
    errors = re.sub(r"\\(.)", r"\1", " ".join(e.value for e in app.error))
    assert "http://" in errors and "at most once an hour" in errors and "IANA" in errors
    assert any("No schedules yet" in i.value for i in app.info)


def test_create_pause_resume_delete(app, site) -> None:
    page(app)
    hook = site.url + "/services/T000/B000/VERYSECRETTOKEN"
    fill(
        app,
        s_target=site.url + "/",
        s_email="ana@example.com",
        s_tz="Europe/Berlin",
        s_channel="slack",
        s_destination=hook,
    )
    assert not app.exception and not app.error, [e.value for e in app.error]
    text = " ".join(m.value for m in app.markdown) + " ".join(c.value for c in app.caption)
    assert site.url in text and "next run" in text and "Europe/Berlin" in text
    assert "Notifies slack" in text and "VERYSECRETTOKEN" not in text  # the webhook URL is shown masked
    [sched] = list_schedules(get_runtime())
    app.button(key=f"pause_{sched.id}").click().run()
    assert "paused" in " ".join(m.value for m in app.markdown)
    app.button(key=f"resume_{sched.id}").click().run()
    assert any("Resumed" in s.value for s in app.success)
    app.button(key=f"delete_{sched.id}").click().run()
    assert any("No schedules yet" in i.value for i in app.info)


def test_tls_cipher_enumeration_is_off_unless_ticked(app, site) -> None:
    """nmap's ssl-enum-ciphers is intrusive: its checkbox starts unticked, and a tick reaches the schedule."""
    page(app)
    assert app.checkbox(key="s_tls_ciphers").value is False and app.checkbox(key="s_service_version").value is False
    app.multiselect(key="s_scanners").set_value(["portscan"])
    app.checkbox(key="s_tls_ciphers").check()
    fill(app, s_target=site.url + "/", s_email="ana@example.com")
    assert not app.exception and not app.error, [e.value for e in app.error]
    [sched] = list_schedules(get_runtime())
    assert sched.scanners["portscan"]["tls_ciphers"] == "true"
    assert sched.scanners["portscan"]["service_version"] == "false"


def test_progress_page_shows_a_notification_still_waiting(app, site) -> None:
    app.run()
    rt = get_runtime()
    add_rule(rt, "ana@example.com", "webhook", site.url + "/hook/SECRETPATH", "finished")
    site.fail_next = 100
    scan_id = finished_scan(rt)
    evaluate_finished(rt, rt.notifier)
    app.query_params["scan"] = scan_id
    app.switch_page("views/progress.py").run()
    [warning] = [w.value for w in app.warning if "notification" in w.value]
    assert "webhook notification is not delivered yet" in warning and "HTTP 503" in warning
    assert "SECRETPATH" not in warning

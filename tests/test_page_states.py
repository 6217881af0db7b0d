"""What each page says when there is nothing to show yet, and why a scan waits, under Streamlit's AppTest with
the app's real runtime on a temporary data dir (the `app` fixture of tests/test_pages.py)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from lib.services.intake import confirm, submit
from tests.test_pages import app, token_of  # noqa: F401 - app is the AppTest fixture
from ui.runtime import get_runtime


def progress_of(at: AppTest, scan_id: str) -> AppTest:
    at.query_params["scan"] = scan_id
    return at.switch_page("views/progress.py").run()


def test_progress_says_why_a_scan_waits(app, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("OWNERSHIP_PROOF", "on")
    monkeypatch.setenv("LIMIT_RUNNING", "1")
    app.run()
    rt = get_runtime()
    first = submit(rt, "http://127.0.0.1:9/", "ana@example.com", {"web": {}}).scan_id
    assert confirm(rt, token_of(rt.mailer.messages()[0].link)).ok
    second = submit(rt, "http://127.0.0.1:9/", "ana@example.com", {"web": {}}).scan_id
    progress_of(app, first)
    assert not app.exception
    assert any("Not queued yet, waiting for the ownership proof" in i.value for i in app.info)
    progress_of(app, second)
    assert any("1 scan running or queued (limit 1)" in i.value for i in app.info)

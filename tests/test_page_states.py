"""What each page says when there is nothing to show yet, and why a scan waits, under Streamlit's AppTest with
the app's real runtime on a temporary data dir (the `app` fixture of tests/test_pages.py)."""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest

from lib.services.intake import confirm, submit
from tests.test_pages import app, token_of  # noqa: F401 - app is the AppTest fixture
from ui.pages import PAGES, SECTIONS
from ui.runtime import get_runtime


def shown(markdown: str) -> str:
    """What the viewer reads: Markdown's backslash escapes (lib.core.text.md_escape) removed."""
    return re.sub(r"\\(.)", r"\1", markdown)


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
    assert any("Not queued yet, waiting for the ownership proof" in shown(i.value) for i in app.info)
    progress_of(app, second)
    assert any("1 scan running or queued (limit 1)" in shown(i.value) for i in app.info)


EMPTY = {  # page -> what its empty state tells a new user to do
    "progress": "start one on New scan",
    "reports": "start a scan on New scan",
    "outbox": "request a scan on New scan",
    "history": "start a scan on New scan",
}
ADVICE_ONLY = {  # pages whose empty state points at something on the page itself
    "tokens": "create one with the form above",
    "audit": "widen the dates or clear a filter",
}


def test_every_page_of_an_empty_portal_says_what_to_do(app) -> None:  # noqa: F811
    app.run()
    for key, advice in EMPTY.items():
        app.switch_page(PAGES[key].file).run()
        assert not app.exception, key
        assert any(advice in i.value for i in app.info), (key, [i.value for i in app.info])
        links = [p.proto for p in app.get("page_link")]
        assert any(p.label == "Go to New scan" and p.icon == PAGES["new_scan"].icon for p in links), key
    for key, advice in ADVICE_ONLY.items():
        app.switch_page(PAGES[key].file).run()
        assert not app.exception, key
        assert any(advice in i.value for i in app.info), (key, [i.value for i in app.info])
    app.switch_page(PAGES["cluster"].file).run()
    assert not app.exception and "scans run in this app's local worker pool" in app.info[0].value


def test_history_with_scans_but_none_in_the_filters_says_to_widen_them(app) -> None:  # noqa: F811
    app.run()
    assert submit(get_runtime(), "http://127.0.0.1:9/", "ana@example.com", {"web": {}}).ok
    get_runtime().history.warm()
    app.query_params.update({"from": "2020-01-01", "to": "2020-01-02"})
    app.switch_page(PAGES["history"].file).run()
    assert not app.exception
    assert [i.value for i in app.info] == ["No scans match these filters — widen the dates or clear a filter."]


def test_each_page_heading_is_its_navigation_title(app) -> None:  # noqa: F811
    """The sidebar entry, the browser tab (Streamlit names it after the page) and the heading say the same."""
    app.run()
    for key, page in PAGES.items():
        app.switch_page(page.file).run()
        assert not app.exception, key
        assert app.title[0].value == page.title, key
    assert {k for keys in SECTIONS.values() for k in keys} == set(PAGES)

"""Markdown injection, as an attacker writes it: a target URL (or a shared link) whose text is Markdown. Every
text the pages hand to Streamlit's Markdown renderer is rendered here with a GFM-like parser (links, images,
autolinks); nothing the attacker wrote may come out as an image or a link."""

from __future__ import annotations

from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from lib.core.text import md_escape
from lib.services.intake import submit
from ui.runtime import get_runtime

APP = str(Path(__file__).resolve().parents[1] / "app.py")
BEACON = "http://127.0.0.1:5999/beacon.png"
PAYLOADS = [
    f"![x]({BEACON})",
    f"[click](data:text/html;base64,PHNjcmlwdD4=) <{BEACON}>",
    f"{BEACON} www.attacker.example",
    "[ref]\n\n[ref]: http://127.0.0.1:5999/ref.png",
    ":red[**alarm**] :material/warning: $x^2$",
]
MARKDOWN_KINDS = ("markdown", "caption", "error", "info", "warning", "success")
md = MarkdownIt("commonmark", {"linkify": True}).enable(["linkify", "table", "strikethrough"])


def attacker_html(text: str) -> list[str]:
    """The images and links that rendering `text` as Markdown would make (our own portal links excluded)."""
    html = md.render(text)
    return [tag for tag in ("<img", "<a ") if tag in html and "http://portal.test/" not in html]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_escaped_text_renders_literally(payload: str) -> None:
    out = md.render(md_escape(payload))
    assert "<img" not in out and "<a " not in out
    assert md_escape(payload).replace("\\", "") == payload.replace("\\", "")


@pytest.fixture
def app(make_settings, monkeypatch):
    settings = make_settings()
    monkeypatch.setenv("SCANBOARD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://portal.test")
    get_runtime.clear()
    at = AppTest.from_file(APP, default_timeout=30)
    yield at
    get_runtime().stop()
    get_runtime.clear()


def rendered(at: AppTest) -> list[str]:
    return [str(e.value) for kind in MARKDOWN_KINDS for e in at.get(kind)]


def test_a_markdown_target_url_renders_no_image_or_link_on_progress_and_outbox(app) -> None:
    app.run()
    rt = get_runtime()
    target = f"http://127.0.0.1:9/a/![x]({BEACON})"
    out = submit(rt, target, "ana@example.com", {"web": {}})
    assert out.ok, out.errors
    app.query_params["scan"] = out.scan_id
    app.switch_page("views/progress.py").run()
    assert not app.exception
    texts = rendered(app)
    assert any("beacon" in t for t in texts)  # the target is on the page, as text
    assert [t for t in texts if attacker_html(t)] == []
    app.switch_page("views/outbox.py").run()
    assert not app.exception
    texts = rendered(app)
    assert any("beacon" in t for t in texts)
    assert [t for t in texts if attacker_html(t)] == []


def test_a_markdown_scan_id_in_a_shared_link_is_shown_as_text(app) -> None:
    app.query_params["scan"] = f"![x]({BEACON})"
    app.switch_page("views/progress.py").run()
    assert not app.exception
    assert "no scan with id" in app.error[0].value
    assert [t for t in rendered(app) if attacker_html(t)] == []

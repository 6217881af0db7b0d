"""The API tokens page under AppTest: a token is created (its key shown once, only its hash stored), works
against the API's authentication, and is revoked from the page."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib.core.api_keys import SCAN_READ, hash_key
from lib.services import api_tokens
from lib.services.api_tokens import AuthError
from ui.runtime import get_runtime

APP = Path(__file__).resolve().parents[1] / "app.py"


@pytest.fixture
def app(make_settings, monkeypatch):
    settings = make_settings()
    monkeypatch.setenv("SCANBOARD_DATA_DIR", str(settings.data_dir))
    get_runtime.clear()
    at = AppTest.from_file(str(APP), default_timeout=30)
    yield at
    get_runtime().stop()
    get_runtime.clear()


def test_create_shows_the_key_once_then_revoke(app) -> None:
    app.run()
    app.switch_page("views/tokens.py").run()
    assert not app.exception and app.title[0].value == "API tokens"
    app.text_input(key="token_owner").input("Ci@Example.com").run()
    app.button[0].click().run()  # the form's Create button
    assert not app.exception and not app.error
    key = app.code[0].value
    assert key.startswith("sbk_")
    sessions = get_runtime().sessions
    [row] = api_tokens.list_tokens(sessions, "ci@example.com")
    assert row.token_hash == hash_key(key) and key not in repr(row.__dict__)
    assert api_tokens.authenticate(sessions, f"Bearer {key}", SCAN_READ).owner_email == "ci@example.com"

    app.run()  # next run: the key is not shown again
    assert not [c for c in app.code if c.value.startswith("sbk_")]
    assert any("active" in m.value for m in app.markdown)
    next(b for b in app.button if b.label == "Revoke").click().run()
    assert not app.exception
    assert any("revoked" in m.value for m in app.markdown)
    with pytest.raises(AuthError, match="revoked"):
        api_tokens.authenticate(sessions, f"Bearer {key}", SCAN_READ)


def test_no_token_without_an_owner_or_scope(app) -> None:
    app.run()
    app.switch_page("views/tokens.py").run()
    app.button[0].click().run()
    assert "No token was created" in app.error[0].value and not app.code

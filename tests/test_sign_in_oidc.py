"""Real sign-in end to end: st.login against a real OpenID provider on 127.0.0.1 (oidc-provider-mock), driven
by Chromium. An analyst and a manager see their own menus and sign out; an identity without an email is refused."""

from __future__ import annotations

import re

import pytest
from oidc_provider_mock import User, run_server_in_thread
from playwright.sync_api import expect, sync_playwright

from tests.browser import CHROMIUM, CHROMIUM_ARGS, portal, wait_for_app
from tests.smtp_server import free_port

pytestmark = pytest.mark.slow
USERS = [
    User(sub="ana", claims={"email": "ana@corp.example", "email_verified": True}),
    User(sub="boss", claims={"email": "boss@corp.example", "email_verified": True}),
    User(sub="ghost", claims={"name": "No Email"}),
]


def sign_in(page, base: str, sub: str) -> None:
    page.goto(base)
    wait_for_app(page)
    page.get_by_role("button", name="Sign in").click()
    page.locator('input[name="sub"]').first.fill(sub)  # the provider's own authorisation form
    page.locator('input[name="sub"]').first.press("Enter")
    page.wait_for_url(re.compile(re.escape(base)), timeout=30_000)
    wait_for_app(page)


def sign_out(page) -> None:
    """Streamlit clears its cookie, then sends the browser to the provider's end-session page, which asks."""
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="End session").click(timeout=30_000)
    wait_for_app(page)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=30_000)


def nav(page) -> list[str]:
    """The menu's page titles (each link's last line: the icon's name comes first)."""
    return [t.strip().splitlines()[-1] for t in page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()]


def test_sign_in_with_a_real_provider(tmp_path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with run_server_in_thread(user_claims=USERS) as idp:
        secrets = tmp_path / "secrets.toml"
        secrets.write_text(
            "[auth]\n"
            f'redirect_uri = "{base}/oauth2callback"\n'
            f'cookie_secret = "{"c" * 32}"\n'
            'client_id = "scanboard"\n'
            f'client_secret = "{"s" * 32}"\n'
            f'server_metadata_url = "http://localhost:{idp.server_port}/.well-known/openid-configuration"\n'
        )
        env = {"SCANBOARD_AUTH": "oidc", "ROLE_MANAGERS": "boss@corp.example"}
        with (
            portal(tmp_path / "data", port=port, args=(f"--secrets.files={secrets}",), **env),
            sync_playwright() as p,
        ):
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_context().new_page()
                sign_in(page, base, "ana")
                expect(page.get_by_text("Signed in as ana@corp.example")).to_be_visible(timeout=30_000)
                assert "New scan" in nav(page) and "History" not in nav(page) and "Audit log" not in nav(page)
                sign_out(page)

                sign_in(page, base, "boss")
                expect(page.get_by_text("Signed in as boss@corp.example")).to_be_visible(timeout=30_000)
                assert {"History", "Audit log"} <= set(nav(page))
                sign_out(page)

                sign_in(page, base, "ghost")
                expect(page.get_by_text(re.compile("Sign-in refused.*no email"))).to_be_visible(timeout=30_000)
                assert nav(page) == []
            finally:
                browser.close()

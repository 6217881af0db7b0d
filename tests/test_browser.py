"""A person's way through the portal in a real browser: fill the form, open the outbox's confirmation link,
watch the DAG finish, see the findings and the report; and the error paths they can run into."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect, sync_playwright

from lib.core.tokens import make_token, new_jti
from testkit.targets import http_target
from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, portal, wait_for_app

pytestmark = pytest.mark.slow


@pytest.fixture
def browser_page(request, tmp_path):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield page
        if getattr(request.node, "rep_call", None) is None or request.node.rep_call.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        browser.close()


def request_scan(page, base: str, target: str, email: str) -> None:
    page.goto(f"{base}/")  # the default page: New scan
    wait_for_app(page)
    page.get_by_label("Target URL").fill(target)
    page.get_by_label("Your email").fill(email)
    page.get_by_role("button", name="Request scan").click()


def test_lifecycle_in_a_browser(browser_page, tmp_path) -> None:
    page = browser_page
    with http_target() as port, portal(tmp_path / "data") as base:
        request_scan(page, base, f"http://127.0.0.1:{port}/", "ana@example.com")
        expect(page.get_by_text(re.compile(r"Scan \w{12} requested"))).to_be_visible(timeout=30_000)

        page.get_by_role("link", name=re.compile("open the Outbox")).click()
        link = page.get_by_role("link", name="Confirm the scan").first
        expect(link).to_be_visible(timeout=30_000)
        href = link.get_attribute("href")
        assert href.startswith(f"{base}/confirm?token=")

        page.goto(href)
        expect(page).to_have_url(re.compile(r"/progress\?scan=\w{12}"), timeout=30_000)
        finished = page.get_by_text(re.compile(r"(succeeded|partial|failed) · (\d)/\2 steps"))
        expect(finished).to_be_visible(timeout=180_000)
        expect(finished).to_contain_text("succeeded")
        expect(page.get_by_role("heading", name="Findings")).to_be_visible(timeout=60_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "progress-finished.png"), full_page=True)

        page.get_by_role("link", name="Download the report").click()
        expect(page.get_by_role("button", name=re.compile(r"report\.pdf"))).to_be_visible(timeout=30_000)
        with page.expect_download() as dl:
            page.get_by_role("button", name=re.compile(r"report\.pdf")).click()
        assert open(dl.value.path(), "rb").read(5) == b"%PDF-"

        page.goto(href)  # the same link again
        expect(page.get_by_text("Already confirmed")).to_be_visible(timeout=30_000)


def test_error_paths_are_explained_on_the_page(browser_page, tmp_path) -> None:
    page = browser_page
    data = tmp_path / "data"
    with portal(data) as base:
        request_scan(page, base, "example.com", "not-an-email")
        expect(page.get_by_text("Enter a full URL starting with http:// or https://.")).to_be_visible(timeout=30_000)
        expect(page.get_by_text(re.compile("not a valid email address"))).to_be_visible()

        request_scan(page, base, "http://169.254.169.254/latest/meta-data/", "ana@example.com")
        expect(page.get_by_text(re.compile("cloud metadata address"))).to_be_visible(timeout=30_000)

        page.goto(f"{base}/confirm?token=garbage")
        expect(page.get_by_text(re.compile("not valid"))).to_be_visible(timeout=30_000)

        # A link signed with this portal's own secret, but a day and a half old.
        secret = (data / "secret.key").read_text().strip()
        old = make_token(
            secret, "0123456789ab", new_jti(), datetime.now(UTC) - timedelta(hours=36), timedelta(hours=24)
        )
        page.goto(f"{base}/confirm?token={old}")
        expect(page.get_by_text(re.compile("has expired"))).to_be_visible(timeout=30_000)
        expect(page.get_by_role("link", name="Request the scan again")).to_be_visible()


def test_a_page_url_opened_first_goes_through_sign_in(browser_page, tmp_path) -> None:
    """The first request to a fresh server is /history: it must be routed by app.py (sign-in), not served
    directly as a page file."""
    page = browser_page
    with portal(tmp_path / "data", SCANBOARD_AUTH="oidc") as base:
        page.goto(f"{base}/history")
        wait_for_app(page)
        expect(page.get_by_text(re.compile("no identity provider is configured"))).to_be_visible(timeout=30_000)
        expect(page.get_by_role("heading", name="History")).to_have_count(0)


@contextlib.contextmanager
def beacon() -> Iterator[tuple[int, list[str]]]:
    """An attacker's image server on 127.0.0.1: the paths every browser that loaded something asked for."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], hits
    finally:
        server.shutdown()
        server.server_close()


def test_a_markdown_target_makes_no_browser_fetch_the_attackers_image(browser_page, tmp_path) -> None:
    page = browser_page
    with beacon() as (port, hits), portal(tmp_path / "data") as base:
        target = f"http://127.0.0.1:9/a/![x](http://127.0.0.1:{port}/beacon.png)"
        request_scan(page, base, target, "ana@example.com")
        done = page.get_by_text(re.compile(r"Scan \w{12} requested"))
        expect(done).to_be_visible(timeout=30_000)
        scan_id = re.search(r"Scan (\w{12}) requested", done.inner_text()).group(1)
        for path in (f"/progress?scan={scan_id}", "/outbox", f"/progress?scan=![y](http://127.0.0.1:{port}/id.png)"):
            page.goto(base + path)
            wait_for_app(page)
            page.wait_for_timeout(1000)  # time for any image to load
            assert hits == [], path
        expect(page.get_by_text("id.png")).to_be_visible()  # the attacker's text is there, as text


def test_the_per_client_limit_counts_the_address_the_trusted_proxy_saw(tmp_path) -> None:
    """Behind one trusted proxy every TCP peer is the proxy: the limit must count the address it appended to
    X-Forwarded-For, so one client's requests do not block another's."""
    # uvicorn itself trusts X-Forwarded-For from 127.0.0.1 only; in the cluster the ALB's address is not that.
    # FORWARDED_ALLOW_IPS set elsewhere makes this loopback test see what the pod sees: the proxy as the peer.
    env = {"TRUSTED_PROXY_HOPS": "1", "LIMIT_UNCONFIRMED": "1", "FORWARDED_ALLOW_IPS": "192.0.2.1"}
    with sync_playwright() as p, portal(tmp_path / "data", **env) as base:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:

            def client(address: str):
                return browser.new_context(extra_http_headers={"X-Forwarded-For": f"6.6.6.6, {address}"}).new_page()

            first = client("198.51.100.1")
            request_scan(first, base, "http://127.0.0.1:9/", "ana@example.com")
            expect(first.get_by_text(re.compile(r"Scan \w{12} requested"))).to_be_visible(timeout=30_000)
            request_scan(first, base, "http://127.0.0.1:9/", "bob@example.com")
            expect(first.get_by_text(re.compile("This computer has 1 scan requests"))).to_be_visible(timeout=30_000)
            other = client("198.51.100.2")
            request_scan(other, base, "http://127.0.0.1:9/", "cid@example.com")
            expect(other.get_by_text(re.compile(r"Scan \w{12} requested"))).to_be_visible(timeout=30_000)
        finally:
            browser.close()

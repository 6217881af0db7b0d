"""`make screenshots`: a PNG of each page of a freshly seeded portal, for the README.

The portal runs under `streamlit run` on a free port with its own temporary data dir; one real scan of a local
HTTP target (testkit/targets.py) is requested, confirmed and finished through the pages themselves in Debian's
Chromium, then every page is photographed. Run: `python -m tests.screenshots [OUT_DIR]` (default
docs/screenshots). Lives beside the browser tests because it uses their portal and target helpers.
"""

from __future__ import annotations

import contextlib
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from testkit.targets import http_target, serving
from tests.browser import CHROMIUM, CHROMIUM_ARGS, ROOT, portal, wait_for_app

OUT = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1400, "height": 900}
FACTS_TTL_S = 31  # the runtime's history facts refresh at most every 30 s: visit History after that
TIMEOUT_MS = 30_000


MAX_HEIGHT = 2400
SLOW_S = 12  # how long the slow target takes to answer: the first queued scan holds the one worker that long


class _SlowHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(SLOW_S)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def slow_target() -> Iterator[int]:
    """An HTTP server that answers after SLOW_S seconds, so a scan of it is still running when we look."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
    server.daemon_threads = True
    with serving(server) as port:
        yield port


def shoot(page: Page, out: Path, name: str) -> None:
    """The whole page: Streamlit scrolls inside its main block, not the document, so the window is made as tall
    as that block (capped) instead of using full_page."""
    wait_for_app(page)
    page.evaluate("document.activeElement && document.activeElement.blur()")  # no focus ring in the picture
    page.wait_for_timeout(800)  # charts and fonts settle after the script has finished
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": min(max(height, VIEWPORT["height"]), MAX_HEIGHT)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(out / f"{name}.png"))
    page.set_viewport_size(VIEWPORT)
    print(f"wrote {out / f'{name}.png'}")


def fill_request(page: Page, base: str, target: str, ports: str = "") -> None:
    page.goto(f"{base}/")
    wait_for_app(page)
    page.get_by_label("Target URL").fill(target)
    page.get_by_label("Your email").fill("ana@example.com")
    if ports:
        page.get_by_role("textbox", name="Ports").fill(ports)


def submit_request(page: Page) -> None:
    page.get_by_role("button", name="Request scan").click()
    expect(page.get_by_text(re.compile(r"Scan \w{12} requested"))).to_be_visible(timeout=TIMEOUT_MS)


def confirm_links(page: Page, base: str) -> list[str]:
    page.goto(f"{base}/outbox")
    links = page.get_by_role("link", name="Confirm the scan")
    expect(links.first).to_be_visible(timeout=TIMEOUT_MS)
    return [h for h in (a.get_attribute("href") for a in links.all()) if h]


def request_and_confirm(page: Page, base: str, target: str, out: Path) -> str:
    """New scan (filled in) and Outbox, then the confirmation link to the finished scan's progress."""
    fill_request(page, base, target)
    shoot(page, out, "new-scan")
    submit_request(page)
    [link] = confirm_links(page, base)
    shoot(page, out, "outbox")
    page.goto(link)
    finished = page.get_by_text(re.compile(r"(succeeded|partial|failed) · (\d)/\2 steps"))
    expect(finished).to_be_visible(timeout=180_000)
    expect(page.get_by_role("heading", name="Findings")).to_be_visible(timeout=TIMEOUT_MS)
    shoot(page, out, "progress")
    return link


def queued_scan(page: Page, base: str, target: str, out: Path, used: str) -> None:
    """Two more scans of a slow target on the portal's one worker: the second one's progress says where it waits
    and why."""
    for _ in range(2):
        fill_request(page, base, target)
        submit_request(page)
    first, second = (h for h in confirm_links(page, base) if h != used)
    page.goto(first)
    expect(page).to_have_url(re.compile(r"/progress\?scan=\w{12}"), timeout=TIMEOUT_MS)
    page.goto(second)
    expect(page.get_by_text(re.compile("in the queue"))).to_be_visible(timeout=TIMEOUT_MS)
    shoot(page, out, "progress-queued")


def the_other_pages(page: Page, base: str, out: Path, started: float) -> None:
    page.goto(f"{base}/reports")
    expect(page.get_by_role("button", name=re.compile(r"report\.pdf")).first).to_be_visible(timeout=TIMEOUT_MS)
    shoot(page, out, "reports")
    time.sleep(max(0.0, started + FACTS_TTL_S - time.monotonic()))
    page.goto(f"{base}/history")
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=TIMEOUT_MS)
    shoot(page, out, "history")
    page.goto(f"{base}/cluster")
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=TIMEOUT_MS)
    shoot(page, out, "cluster")


def main(out: Path = OUT) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="scanboard-screens-") as tmp,
        http_target() as port,
        slow_target() as slow,
        portal(Path(tmp) / "data", SAMPLE_SECONDS="2", SCAN_WORKERS="1") as base,
        sync_playwright() as p,
    ):
        started = time.monotonic()
        target = f"http://127.0.0.1:{port}/"
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            used = request_and_confirm(page, base, target, out)
            queued_scan(page, base, f"http://127.0.0.1:{slow}/", out, used)
            the_other_pages(page, base, out, started)
        finally:
            browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)

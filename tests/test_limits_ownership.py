"""Abuse limits (explained, atomic) and the ownership proof (well-known file or DNS TXT) before a scan starts."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from lib.adapters.models import AWAITING_OWNERSHIP, QUEUED, SUCCEEDED, Scan
from lib.adapters.repository import get_scan
from lib.core.ownership_rules import TXT_PREFIX
from lib.runtime import build_runtime
from lib.services.intake import confirm, submit
from lib.services.ownership import check_dns
from tests.conftest import wait_until
from tests.dns_server import TxtServer


def token_for(rt, scan_id: str) -> str:
    link = next(m.link for m in rt.mailer.messages() if m.scan_id == scan_id and m.kind == "confirm")
    return parse_qs(urlsplit(link).query)["token"][0]


def test_requests_per_hour_per_email_and_per_client(make_settings) -> None:
    rt = build_runtime(make_settings(limit_requests_per_hour=2, limit_unconfirmed=10))
    for _ in range(2):
        assert submit(rt, "http://127.0.0.1:9/", "ana@example.com", {"web": {}}, client_id="10.0.0.1").ok
    hit = submit(rt, "http://127.0.0.1:9/", "ana@example.com", {"web": {}}, client_id="10.0.0.2")
    assert "2 scans in the last hour" in hit.errors["limit"] and not hit.scan_id
    other_email = submit(rt, "http://127.0.0.1:9/", "bob@example.com", {"web": {}}, client_id="10.0.0.1")
    assert "This computer asked" in other_email.errors["limit"]
    assert submit(rt, "http://127.0.0.1:9/", "bob@example.com", {"web": {}}, client_id="10.0.0.3").ok
    rt.db.dispose()


def test_unconfirmed_requests_outstanding(make_settings) -> None:
    rt = build_runtime(make_settings(limit_unconfirmed=2))
    ids = [submit(rt, "http://127.0.0.1:9/", "ana@example.com", {"web": {}}).scan_id for _ in range(2)]
    assert (
        "waiting for confirmation" in submit(rt, "http://127.0.0.1:9/", "ana@example.com", {"web": {}}).errors["limit"]
    )
    assert confirm(rt, token_for(rt, ids[0])).ok  # confirming one frees a place
    assert submit(rt, "http://127.0.0.1:9/", "ana@example.com", {"web": {}}).ok
    rt.db.dispose()


def test_limit_holds_under_concurrent_requests(make_settings) -> None:
    rt = build_runtime(make_settings(limit_requests_per_hour=5, limit_unconfirmed=50))
    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(
            pool.map(lambda _: submit(rt, "http://127.0.0.1:9/", "ana@example.com", {"web": {}}), range(30))
        )
    assert sum(o.ok for o in outcomes) == 5
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Scan)) == 5
    rt.db.dispose()


def test_running_limit_is_explained_at_confirmation_and_the_link_stays_usable(make_settings) -> None:
    rt = build_runtime(make_settings(limit_running=1))  # not started: the first scan stays queued
    first = submit(rt, "http://127.0.0.1:9/", "ana@example.com", {"web": {}}).scan_id
    second = submit(rt, "http://127.0.0.1:9/", "ana@example.com", {"web": {}}).scan_id
    assert confirm(rt, token_for(rt, first)).ok
    busy = confirm(rt, token_for(rt, second))
    assert busy.status == "busy" and "1 scans running or queued" in busy.message
    with rt.sessions.begin() as s:
        s.get(Scan, first).status = SUCCEEDED
    assert confirm(rt, token_for(rt, second)).ok
    rt.db.dispose()


class _Site:
    """A target that serves whatever is put in `files`."""

    def __init__(self) -> None:
        self.files: dict[str, str] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = site.files.get(self.path)
                self.send_response(200 if body is not None else 404)
                data = (body or "not found").encode()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"


@pytest.fixture
def site():
    s = _Site()
    yield s
    s.server.shutdown()


def test_scan_waits_for_the_well_known_proof_then_runs(make_settings, site) -> None:
    rt = build_runtime(make_settings(ownership_proof="on")).start()
    try:
        out = submit(rt, site.url, "ana@example.com", {"web": {}})
        [mail] = rt.mailer.messages()
        scan = get_scan(rt.sessions, out.scan_id)
        assert scan.ownership_token and scan.ownership_token in mail.body
        assert "/.well-known/scanboard-verification.txt" in mail.body
        assert confirm(rt, token_for(rt, out.scan_id)).ok
        assert get_scan(rt.sessions, out.scan_id).status == AWAITING_OWNERSHIP
        assert rt.check_ownership() == []
        assert "answered 404" in get_scan(rt.sessions, out.scan_id).status_reason
        site.files["/.well-known/scanboard-verification.txt"] = f"{scan.ownership_token}\n"
        assert rt.check_ownership() == [out.scan_id]
        wait_until(lambda: get_scan(rt.sessions, out.scan_id).status == SUCCEEDED, timeout=60)
    finally:
        rt.stop()


def test_dns_txt_proof_over_the_wire() -> None:
    server = TxtServer().start()
    try:
        server.records[f"{TXT_PREFIX}example.test."] = ["unrelated", "scanboard-verification=abc"]
        assert check_dns("example.test", "scanboard-verification=abc", server.resolver()).ok
        wrong = check_dns("example.test", "scanboard-verification=xyz", server.resolver())
        assert not wrong.ok and "does not hold" in wrong.detail
        missing = check_dns("other.test", "scanboard-verification=abc", server.resolver())
        assert not missing.ok and "NXDOMAIN" in missing.detail
    finally:
        server.stop()


def test_proof_not_required_in_embedded_mode_by_default(make_settings) -> None:
    rt = build_runtime(make_settings())
    out = submit(rt, "http://127.0.0.1:9/", "ana@example.com", {"web": {}})
    assert confirm(rt, token_for(rt, out.scan_id)).ok
    assert get_scan(rt.sessions, out.scan_id).status == QUEUED
    rt.db.dispose()


def test_running_limit_per_client_at_request_time(make_settings) -> None:
    rt = build_runtime(make_settings(limit_running=1))  # not started: confirmed scans stay queued
    first = submit(rt, "http://127.0.0.1:9/", "ana@example.com", {"web": {}}, client_id="10.0.0.9").scan_id
    assert confirm(rt, token_for(rt, first)).ok
    refused = submit(rt, "http://127.0.0.1:9/", "bob@example.com", {"web": {}}, client_id="10.0.0.9")
    assert "This computer already has 1 scans running or queued" in refused.errors["limit"]
    assert submit(rt, "http://127.0.0.1:9/", "bob@example.com", {"web": {}}, client_id="10.0.0.10").ok
    rt.db.dispose()

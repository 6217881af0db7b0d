"""The REST API served by uvicorn on 127.0.0.1, driven with httpx: tokens (use, expiry, revocation, scopes),
every endpoint's answers and errors (problem+json, never a 500), scope policy and limits, SARIF validated
against the official 2.1.0 schema, and the audit log."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jsonschema
import pytest

from lib.adapters.models import Scan, utcnow
from lib.core.api_keys import SCAN_READ, SCAN_WRITE
from lib.runtime import build_runtime
from lib.services import api_tokens
from lib.services.audit import api_calls
from testkit.targets import http_target, open_ports
from tests.api_server import serve_api
from tests.conftest import wait_until

SCHEMA = json.loads((Path(__file__).parent / "fixtures/sarif/sarif-schema-2.1.0.json").read_text())
OWNER = "ci@example.com"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def api(make_settings):
    """(runtime, base URL) of a started runtime and the API over it."""
    rt = build_runtime(make_settings(limit_requests_per_hour=6, limit_running=2, limit_unconfirmed=5)).start()
    try:
        with serve_api(rt) as base:
            yield rt, base
    finally:
        rt.stop()


def token(rt, scopes=(SCAN_READ, SCAN_WRITE), owner=OWNER, days=30) -> str:
    return api_tokens.create(rt.sessions, owner, "ci", list(scopes), days).key


def client(base: str, key: str = "", **headers: str) -> httpx.Client:
    auth = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=base + "/api/v1", headers={**auth, **headers}, timeout=30)


def assert_problem(resp: httpx.Response, status: int, *words: str) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["status"] == status and body["title"] and body["detail"]
    for w in words:
        assert w in body["detail"], body["detail"]
    return body


def test_token_lifecycle_use_wrong_scope_expiry_revocation(api) -> None:
    rt, base = api
    read_only = token(rt, scopes=[SCAN_READ])
    with client(base) as anon:
        assert_problem(anon.get("/scans"), 401, "Authorization: Bearer")
        assert_problem(anon.get("/scans", headers={"Authorization": "Bearer nonsense"}), 401, "not a scanboard")
        forged = read_only[:-4] + "AAAA"
        assert_problem(anon.get("/scans", headers={"Authorization": f"Bearer {forged}"}), 401, "not known")
    with client(base, read_only) as c:
        assert c.get("/scans").status_code == 200
        assert_problem(c.post("/scans", json={"target": "http://127.0.0.1:1/"}), 403, "scans:write")
    row = api_tokens.list_tokens(rt.sessions, OWNER)[0]
    assert row.last_used_at is not None and row.token_hash != read_only and read_only not in row.token_hash
    seen: list[int] = []  # every answer the API gave from here on, for the audit check below

    def until_refused(c: httpx.Client) -> httpx.Response:
        """Poll: the API caches a token's row for up to a second, so an expiry or revocation shows within ~1 s."""
        resp = wait_until(lambda: seen.append((r := c.get("/scans")).status_code) or (r.status_code != 200 and r), 5)
        return resp  # type: ignore[return-value]

    soon = api_tokens.create(rt.sessions, OWNER, "soon", [SCAN_READ], 1, now=utcnow() - timedelta(days=1, seconds=-2))
    with client(base, soon.key) as c:
        seen.append(c.get("/scans").status_code)  # 200: live for two more seconds, and now cached
        assert_problem(until_refused(c), 401, "expired")  # expiry is checked on every call, cached or not
    live = token(rt)
    other = api_tokens.list_tokens(rt.sessions, OWNER)[0]
    with client(base, live) as c:
        seen.append(c.get("/scans").status_code)
        assert not api_tokens.revoke(rt.sessions, "someone@else.com", other.id)  # only the owner revokes
        assert api_tokens.revoke(rt.sessions, OWNER, other.id)
        assert_problem(until_refused(c), 401, "revoked")
    assert seen[0] == 200 and seen[-1] == 401 and set(seen) == {200, 401}
    total = 5 + len(seen)
    calls = wait_until(lambda: (c := api_calls(rt.sessions)) and len(c) == total and c, timeout=10)
    assert [c.status for c in reversed(calls)] == [401, 401, 401, 200, 403, *seen]
    assert calls[-4].token_prefix == row.prefix and calls[-4].owner_email == OWNER


def test_submit_scan_runs_as_token_owner_and_every_read_endpoint(api) -> None:
    rt, base = api
    key = token(rt)
    with open_ports(1) as ports, http_target() as web, client(base, key) as c:
        target = f"http://127.0.0.1:{web}/"
        body = {"target": target, "scanners": ["portscan", "web"], "options": {"portscan": {"ports": str(ports[0])}}}
        resp = c.post("/scans", json=body)
        assert resp.status_code == 202, resp.text
        made = resp.json()
        scan_id = made["id"]
        assert resp.headers["location"].endswith(f"/api/v1/scans/{scan_id}")
        assert made["links"]["findings"] == f"{base}/api/v1/scans/{scan_id}/findings"
        done = wait_until(lambda: (d := c.get(f"/scans/{scan_id}").json())["finished_at"] and d, timeout=90)
        assert done["status"] == "succeeded", done["status_reason"]
        assert done["requested_by"] == OWNER and done["requested_via"] == "api"
        assert [(s["name"], s["state"]) for s in done["steps"]][:3] == [
            ("portscan", "succeeded"),
            ("web", "succeeded"),
            ("tls", "skipped"),
        ]
        assert all(s["started_at"] and s["finished_at"] for s in done["steps"] if s["state"] == "succeeded")
        assert done["counts"]["medium"] + done["counts"]["low"] > 0
        with rt.sessions() as s:
            assert s.get(Scan, scan_id).confirmed_at is not None  # no mail round trip
        assert not [m for m in rt.mailer.messages() if m.kind == "confirm"]

        findings = c.get(f"/scans/{scan_id}/findings").json()
        rules = {f["rule_id"] for f in findings["findings"]}
        assert {"missing-csp", "open-port"} <= rules or "missing-csp" in rules
        assert sum(findings["counts"].values()) == len(findings["findings"])

        sarif = c.get(f"/scans/{scan_id}/findings", headers={"Accept": "application/sarif+json"})
        assert sarif.headers["content-type"].startswith("application/sarif+json")
        jsonschema.Draft4Validator(SCHEMA).validate(sarif.json())
        assert len(sarif.json()["runs"][0]["results"]) == len(findings["findings"])

        diff = c.get(f"/scans/{scan_id}/diff").json()
        assert diff["compared"] is False and len(diff["new"]) == len(findings["findings"])

        report = c.get(f"/scans/{scan_id}/report")
        assert report.status_code == 200 and report.headers["content-type"] == "application/pdf"
        assert report.content.startswith(b"%PDF")

        listed = c.get("/scans", params={"target": target, "status": "succeeded"}).json()
        assert [i["id"] for i in listed["items"]] == [scan_id] and listed["total"] == 1
        assert c.get("/scans", params={"status": "running"}).json()["total"] == 0


def test_bad_input_is_a_clear_problem_never_a_500(api) -> None:
    rt, base = api
    with client(base, token(rt)) as c:
        cases = [
            (c.post("/scans", json={"target": "ftp://x"}), 422, "target"),
            (c.post("/scans", json={"target": "http://127.0.0.1/", "scanners": ["nope"]}), 422, "scanners"),
            (c.post("/scans", json={"target": "http://127.0.0.1/", "scanners": []}), 422, "scanners"),
            (
                c.post("/scans", json={"target": "http://127.0.0.1/", "options": {"portscan": {"ports": "0-99999"}}}),
                422,
                "portscan.ports",
            ),
            (
                c.post(
                    "/scans", json={"target": "http://127.0.0.1/", "options": {"portscan": {"tls_ciphers": "maybe"}}}
                ),
                422,
                "portscan.tls_ciphers",
            ),
            (
                c.post("/scans", json={"target": "http://127.0.0.1/", "scanners": ["tls"], "options": {"web": {}}}),
                422,
                "given for web, not in scanners",
            ),
            (c.post("/scans", json={"target": "http://127.0.0.1/", "colour": "red"}), 422, "colour"),
            (c.post("/scans", content=b"{not json", headers={"Content-Type": "application/json"}), 422, "not valid"),
            (c.post("/scans", json=["a list"]), 422, "not valid"),
            (c.post("/scans", json={"target": "http://127.0.0.1/", "callback_url": "gopher://x"}), 422, "callback"),
            (c.get("/scans", params={"status": "exploded"}), 422, "Unknown status"),
            (c.get("/scans", params={"limit": "0"}), 422, "limit"),
            (c.get("/scans", params={"limit": "abc"}), 422, "limit"),
            (c.get("/scans/doesnotexist"), 404, "no scan"),
            (c.get("/scans/" + "x" * 5000), 404, "no scan"),
            (c.get("/scans/%00%0a/findings"), 404, "no scan"),
            (c.get("/nowhere"), 404, "no API endpoint"),
        ]
        for resp, status, word in cases:
            body = assert_problem(resp, status)
            assert word in body["detail"] or word in json.dumps(body.get("errors", {})), body
        truncated = assert_problem(c.post("/scans", content=b'{"target":', headers=JSON), 422)
        assert truncated["detail"] == "The request body is not valid JSON (at character 10)."
        assert truncated["errors"] == {"body": "Not valid JSON (at character 10): Expecting value."}
        long_id = assert_problem(c.get("/scans/" + "x" * 5000), 404)
        assert long_id["detail"] == f"There is no scan with id '{'x' * 40}…': scan ids are 12 characters 0-9 and a-f."
        assert long_id["instance"].startswith("/api/v1/scans/xxx") and len(long_id["instance"]) <= 201
        unknown = assert_problem(c.get("/scans/0123456789ab/report"), 404)
        assert unknown["detail"] == "There is no scan with id '0123456789ab' that this token may read."
        bogus = {"target": "http://127.0.0.1/", "scanners": ["portscan"], "options": {"portscan": {"bogus": 1}}}
        refused = assert_problem(c.post("/scans", json=bogus), 422, "portscan has no option 'bogus'")
        assert refused["errors"] == {
            "portscan.bogus": "portscan has no option 'bogus'; its options are: ports, service_version, tls_ciphers."
        }
    with rt.sessions() as s:
        assert s.query(Scan).count() == 0  # nothing invalid was stored


def test_scope_policy_through_the_api(make_settings) -> None:
    rt = build_runtime(make_settings(scope_allow_loopback=False, scope_allow_private=False)).start()
    try:
        with serve_api(rt) as base, client(base, token(rt)) as c:
            for target in (
                "http://127.0.0.1:9/",
                "http://169.254.169.254/latest/",
                "http://[::1]/",
                "http://10.0.0.1/",
            ):
                refused = assert_problem(c.post("/scans", json={"target": target, "scanners": ["web"]}), 422)
                assert set(refused["errors"]) == {"target"}, refused
            callback = {"target": "http://93.184.215.14/", "scanners": ["web"], "callback_url": "http://127.0.0.1:1/"}
            assert "callback_url" in assert_problem(c.post("/scans", json=callback), 422)["errors"]
        with rt.sessions() as s:
            assert s.query(Scan).count() == 0
    finally:
        rt.stop()


def test_limits_per_token_owner_and_results_wait_for_the_end(make_settings) -> None:
    """The engine is not started, so accepted scans stay queued: the owner's running limit and hourly limit
    apply across all their tokens, and a queued scan's results answer 409."""
    rt = build_runtime(make_settings(limit_requests_per_hour=3, limit_running=2))
    try:
        with serve_api(rt) as base, client(base, token(rt)) as a, client(base, token(rt)) as b:
            body = {"target": "http://127.0.0.1:9/", "scanners": ["web"]}
            first = a.post("/scans", json=body)
            assert first.status_code == 202 and b.post("/scans", json=body).status_code == 202
            busy = assert_problem(a.post("/scans", json=body), 429, "2 scans running or queued")
            assert "link" not in busy["detail"]  # no confirmation link in the API's flow
            assert busy["status"] == 429
            scan_id = first.json()["id"]
            assert a.get(f"/scans/{scan_id}").json()["status"] == "queued"
            for part, exists in (("findings", "findings exist"), ("diff", "diff exists"), ("report", "report exists")):
                early = assert_problem(a.get(f"/scans/{scan_id}/{part}"), 409)
                assert early["detail"] == f"Scan {scan_id} is queued: its {exists} once it has finished."
            with rt.sessions.begin() as s:  # one finishes: the running limit frees, the hourly one is next
                s.get(Scan, scan_id).status = "failed"
            assert b.post("/scans", json=body).status_code == 202
            with rt.sessions.begin() as s:
                s.query(Scan).update({"status": "failed"})
            assert_problem(a.post("/scans", json=body), 429, "in the last hour")
    finally:
        rt.stop()


def test_an_analyst_token_reads_only_its_owners_scans(make_settings) -> None:
    rt = build_runtime(make_settings(scanboard_auth="oidc", role_managers="boss@example.com"))
    try:
        with serve_api(rt) as base:
            with client(base, token(rt, owner="ana@example.com")) as ana:
                scan_id = ana.post("/scans", json={"target": "http://127.0.0.1:9/", "scanners": ["web"]}).json()["id"]
            with client(base, token(rt, owner="bob@example.com")) as bob:
                assert_problem(bob.get(f"/scans/{scan_id}"), 404, "no scan")
                assert bob.get("/scans").json()["total"] == 0
            with client(base, token(rt, owner="boss@example.com")) as boss:
                assert boss.get(f"/scans/{scan_id}").json()["requested_by"] == "ana@example.com"
                assert boss.get("/scans").json()["total"] == 1
    finally:
        rt.stop()


def test_openapi_and_docs(api) -> None:
    _, base = api
    doc = httpx.get(base + "/api/v1/openapi.json").json()
    assert {"/api/v1/scans", "/api/v1/scans/{scan_id}", "/api/v1/scans/{scan_id}/findings"} <= set(doc["paths"])
    assert "HTTPBearer" in json.dumps(doc["components"]["securitySchemes"])
    assert "swagger" in httpx.get(base + "/api/v1/docs").text.lower()
    assert httpx.get(base + "/docs", follow_redirects=True).url.path == "/api/v1/docs"


class _Recorder(BaseHTTPRequestHandler):
    received: list[tuple[str, dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).received.append((self.path, json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_callback_is_posted_once_when_the_scan_ends(api) -> None:
    rt, base = api
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Recorder.received = []
    try:
        with http_target() as web, client(base, token(rt)) as c:
            hook = f"http://127.0.0.1:{server.server_address[1]}/hooks/scan?k=1"
            made = c.post(
                "/scans", json={"target": f"http://127.0.0.1:{web}/", "scanners": ["web"], "callback_url": hook}
            )
            assert made.status_code == 202, made.text
            scan_id = made.json()["id"]
            (path, body), *more = wait_until(lambda: _Recorder.received, timeout=90)
            assert path == "/hooks/scan?k=1" and not more
            assert body["event"] == "scan.finished" and body["id"] == scan_id and body["status"] == "succeeded"
            assert body["counts"] == c.get(f"/scans/{scan_id}").json()["counts"]
            time.sleep(1.0)  # further housekeeping passes do not post it again
            assert len(_Recorder.received) == 1
    finally:
        server.shutdown()
        server.server_close()

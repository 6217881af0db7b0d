"""DNS rebinding, as an attacker runs it: their name server answers the scope check with an allowed address
(127.0.0.1, allowed here as the embedded mode allows loopback) and every later lookup with another address
(127.0.0.2) where a listener waits. Every scanner, the ownership check and the worker CLI (cluster mode's step)
must connect only to the address the policy vetted: the decoy listener sees nothing and the name is looked up
exactly once."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from lib import worker
from lib.core.ownership_rules import WELL_KNOWN_PATH
from lib.core.scope import ScopePolicy, check_url
from lib.engines.steps import run_scanner
from lib.engines.workspace import Workspace
from lib.runtime import build_runtime
from lib.scanners.nmap import NmapScanner
from lib.services.callbacks import deliver_due
from lib.services.ownership import prove
from testkit.targets import http_target, tls_target
from tests.egress_targets import CountingListener, RebindingDns, rebinding_getaddrinfo, scripted_http
from tests.scan_rows import add_finished_scan

VETTED, DECOY = "127.0.0.1", "127.0.0.2"
NAME = "victim.rebind.test"
POLICY = ScopePolicy(allow_loopback=True)  # the embedded mode's policy: loopback may be scanned


@pytest.fixture
def rebind(monkeypatch: pytest.MonkeyPatch) -> Iterator[RebindingDns]:
    with RebindingDns(first=VETTED, then=DECOY) as server:
        monkeypatch.setattr(socket, "getaddrinfo", rebinding_getaddrinfo(server, socket.getaddrinfo))
        yield server


@contextlib.contextmanager
def vetted_and_decoy(kind: str) -> Iterator[int]:
    """The real service on 127.0.0.1 and a counting decoy on 127.0.0.2, on the same port."""
    servers = {
        "tcp": lambda: CountingListener(VETTED),
        "http": lambda: http_target(host=VETTED),
        "tls": lambda: tls_target(hostname=NAME, host=VETTED),
    }
    with servers[kind]() as vetted:
        port = vetted if isinstance(vetted, int) else vetted.port
        with CountingListener(DECOY, port) as decoy:
            yield port, decoy, vetted


def test_the_attack_is_real_against_a_client_that_resolves_again(rebind: RebindingDns) -> None:
    """Control: the policy sees 127.0.0.1, a client that looks the name up again lands on the decoy."""
    with CountingListener(DECOY) as decoy:
        decision = check_url(f"http://{NAME}:{decoy.port}/", POLICY)
        assert decision.addresses == (VETTED,)
        with contextlib.suppress(requests.RequestException):
            requests.get(decision.url, timeout=2)
    assert decoy.connections >= 1


SCANNERS = [
    ("portscan", "scanboard-portscan", "tcp", "http"),
    ("portscan", "nmap", "tcp", "http"),
    ("web", "scanboard-web", "http", "http"),
    ("tls", "scanboard-tls", "tls", "https"),
    ("tls", "sslyze", "tls", "https"),
]


@pytest.mark.parametrize("step,tool,kind,scheme", SCANNERS, ids=[s[1] for s in SCANNERS])
def test_every_scanner_connects_only_to_the_vetted_address(
    rebind: RebindingDns, tmp_path: Path, step: str, tool: str, kind: str, scheme: str
) -> None:
    if tool == "nmap" and not NmapScanner().available():
        pytest.skip("nmap is not installed (make test installs it from Debian)")
    with vetted_and_decoy(kind) as (port, decoy, vetted):
        options = {"portscan": {"ports": str(port)}, "web": {"path": "/", "depth": 1}, "tls": {"port": port}}[step]
        ws = Workspace(tmp_path, "0123456789ab")
        out = run_scanner(ws, step, f"{scheme}://{NAME}:{port}/", options, POLICY, 120, prefer=tool)
    assert out.state == "succeeded" and out.tool == tool, out.message
    assert decoy.connections == 0
    assert rebind.queries == {NAME: 1}  # the step's own scope check; no scanner looked the name up again
    if kind == "tcp":
        assert vetted.connections >= 1
        assert [(f.asset.ip, f.asset.port) for f in out.findings] == [(VETTED, port)]
    else:
        assert out.findings  # the service on the vetted address answered and was judged


def test_the_web_baseline_sends_the_name_as_host_header(rebind: RebindingDns, tmp_path: Path) -> None:
    page = (200, {"Content-Type": "text/html"}, b"<a href='/next'>n</a>")
    with scripted_http(lambda h: page) as (port, seen), CountingListener(DECOY, port) as decoy:
        out = run_scanner(Workspace(tmp_path, "0123456789ab"), "web", f"http://{NAME}:{port}/", {}, POLICY, 60)
    assert out.state == "succeeded", out.message
    assert decoy.connections == 0 and rebind.queries == {NAME: 1}
    assert {s["host"] for s in seen} == {f"{NAME}:{port}"} and "/next" in {s["path"] for s in seen}


def test_the_ownership_check_fetches_the_proof_from_the_vetted_address(rebind: RebindingDns) -> None:
    token = "scanboard-verification=0123456789abcdef0123456789abcdef"

    def route(handler):
        body = token.encode() if handler.path == WELL_KNOWN_PATH else b""
        return (200 if body else 404), {}, body

    with scripted_http(route, host=VETTED) as (port, seen), CountingListener(DECOY, port) as decoy:
        proof = prove(f"http://{NAME}:{port}/", token, POLICY, resolver=_no_txt(rebind))
    assert proof.ok, proof.detail
    assert decoy.connections == 0 and rebind.queries == {NAME: 1}
    assert seen == [{"path": WELL_KNOWN_PATH, "host": f"{NAME}:{port}"}]


def _no_txt(server: RebindingDns):
    import dns.resolver

    r = dns.resolver.Resolver(configure=False)
    r.nameservers, r.port = ["127.0.0.1"], server.port
    return r


def test_the_worker_step_in_cluster_mode_rechecks_and_pins(
    rebind: RebindingDns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m lib.worker scan`, as a pod runs it: its own scope check resolves, then it pins."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCOPE_ALLOW_LOOPBACK", "true")
    with vetted_and_decoy("http") as (port, decoy, _):
        argv = ["scan", "web", "--scan-id", "0123456789ab", "--workdir", str(tmp_path), "--target"]
        code = worker.main([*argv, f"http://{NAME}:{port}/"])
    assert code == 0
    assert decoy.connections == 0 and rebind.queries == {NAME: 1}


def test_the_api_callback_is_posted_to_the_vetted_address(rebind: RebindingDns, make_settings) -> None:
    """A finished API scan's callback URL names the attacker's host: the POST must reach the address the
    policy approved at delivery time, carrying the name as Host, and the decoy must see nothing."""
    rt = build_runtime(make_settings())  # not started: this test runs the one delivery pass itself
    try:
        with scripted_http(lambda h: (204, {}, b""), host=VETTED) as (port, seen), CountingListener(DECOY, port) as d:
            add_finished_scan(rt.sessions, "0123456789ab", callback_url=f"http://{NAME}:{port}/hook")
            assert deliver_due(rt.sessions, POLICY, "http://portal.test") == ["0123456789ab"]
    finally:
        rt.stop()
    assert d.connections == 0 and rebind.queries == {NAME: 1}
    [hook] = seen
    assert hook["path"] == "/hook" and hook["host"] == f"{NAME}:{port}"
    assert json.loads(hook["body"])["id"] == "0123456789ab"

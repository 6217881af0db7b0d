"""Redirect chains from a hostile site: the web baseline follows redirects itself, one hop at a time, each
through the strict parse and the scope policy. A hop out of scope is reported as an informational finding and
never fetched (the listeners where it points see nothing); loops and long chains stop after 10 hops."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.core.scope import ScopePolicy
from lib.engines.steps import run_scanner
from lib.engines.workspace import Workspace
from tests.egress_targets import CountingListener, scripted_http

DENIED = "127.0.0.3"
POLICY = ScopePolicy(allow_loopback=True, deny_cidrs=(f"{DENIED}/32",))  # 127.0.0.1 allowed, 127.0.0.3 denied


def redirecting(location_for):
    """A site whose every path answers 302 to location_for(path), or 200 when it returns None."""

    def route(handler):
        location = location_for(handler.path)
        if location is None:
            return 200, {"Content-Type": "text/html"}, b"<html><title>home</title></html>"
        return 302, {"Location": location}, b""

    return route


def scan(tmp_path: Path, port: int):
    ws = Workspace(tmp_path, "0123456789ab")
    out = run_scanner(ws, "web", f"http://127.0.0.1:{port}/", {"path": "/", "depth": 1}, POLICY, 60)
    assert out.state == "succeeded", out.message
    return out


def by_rule(out, rule: str):
    return [f for f in out.findings if f.rule_id == rule]


@pytest.mark.parametrize(
    "name,location,why",
    [
        ("denied address", "http://{denied}:{trap}/latest/meta-data/", "denied network"),
        ("another port", "http://127.0.0.1:{trap}/admin", "another origin"),
        ("another scheme", "https://127.0.0.1:{trap}/", "another origin"),
        ("gopher", "gopher://127.0.0.1:{trap}/_SET%20x", "Only http"),
        ("file", "file:///etc/passwd", "Only http"),
        ("metadata", "http://169.254.169.254/latest/meta-data/iam/", "metadata"),
        ("metadata via 6to4", "http://[2002:a9fe:a9fe::]/", "metadata"),
        ("backslash host", "http://127.0.0.1:{trap}\\@evil.example/", "backslash"),
        ("legacy spelling", "http://0x7f.0.0.3:{trap}/", "four decimal numbers"),
        ("userinfo", "http://127.0.0.1:{port}@127.0.0.1:{trap}/", "user name"),
        ("another host by name", "http://localhost:{port}/", "another host"),
    ],
)
def test_a_hop_out_of_scope_is_reported_and_not_fetched(tmp_path: Path, name: str, location: str, why: str) -> None:
    with CountingListener("127.0.0.1") as trap, CountingListener(DENIED, trap.port) as denied_trap:
        target_port = {"port": 0}
        route = redirecting(
            lambda path: (
                None
                if path == "/home"
                else location.format(denied=DENIED, trap=trap.port, port=target_port["port"])
                if path == "/"
                else None
            )
        )
        with scripted_http(route) as (port, seen):
            target_port["port"] = port
            out = scan(tmp_path, port)
    assert trap.talkers == 0 and denied_trap.connections == 0
    assert [s["path"] for s in seen] == ["/", "/"]  # the HTTPS-redirect check, the crawl; it stopped at the hop
    [finding] = by_rule(out, "redirect-out-of-scope")
    assert finding.severity == "info" and finding.title.startswith("Redirects outside the allowed scope to ")
    assert why in finding.evidence
    assert not by_rule(out, "missing-csp")  # nothing was fetched past the hop, so nothing was judged


def test_a_redirect_within_the_origin_is_followed(tmp_path: Path) -> None:
    with scripted_http(redirecting(lambda p: "/home" if p == "/" else None)) as (port, seen):
        out = scan(tmp_path, port)
    assert [s["path"] for s in seen].count("/home") == 1
    assert by_rule(out, "missing-csp") and not by_rule(out, "redirect-out-of-scope")


def test_a_loop_stops_and_is_reported(tmp_path: Path) -> None:
    loop = {"/": "/a", "/a": "/b", "/b": "/a"}
    with scripted_http(redirecting(loop.get)) as (port, seen):
        out = scan(tmp_path, port)
    assert len(seen) <= 4
    [finding] = by_rule(out, "redirect-limit")
    assert "loop" in finding.title


def test_twenty_hops_stop_after_ten(tmp_path: Path) -> None:
    def hop(path: str) -> str | None:
        n = int(path.rsplit("/", 1)[-1] or 0) if path.startswith("/hop/") else 0
        return None if n >= 20 else f"/hop/{n + 1}"

    with scripted_http(redirecting(hop)) as (port, seen):
        out = scan(tmp_path, port)
    crawled = [s["path"] for s in seen][1:]  # after the HTTPS-redirect check
    assert crawled == ["/"] + [f"/hop/{n}" for n in range(1, 11)]
    [finding] = by_rule(out, "redirect-limit")
    assert "more than 10 redirects" in finding.title

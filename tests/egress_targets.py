"""Attacker-side parts for the egress tests, all on loopback: a rebinding DNS server (UDP, real DNS messages), TCP
listeners that count who connected, and an HTTP server whose answers (redirect chains) the test scripts.

The rebinding server answers the first A query for a name with one address and every later query with another;
`rebinding_getaddrinfo` routes the process's own name lookups for `*.rebind.test` to it, as a resolv.conf
pointing at the attacker's name server would, so any code that resolves the name again gets the second answer.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset

from testkit.targets import serving
from tests.dns_server import UdpDnsServer

REBIND_SUFFIX = ".rebind.test"


class RebindingDns(UdpDnsServer):
    """First answer `first`, then `then`, per name; `queries` counts the A queries per name."""

    def __init__(self, first: str, then: str) -> None:
        super().__init__()
        self.first, self.then = first, then
        self.queries: dict[str, int] = {}

    def answer(self, q: dns.rrset.RRset, response: dns.message.Message) -> None:
        name = q.name.to_text().lower().rstrip(".")
        if q.rdtype == dns.rdatatype.A and name.endswith(REBIND_SUFFIX):
            n = self.queries[name] = self.queries.get(name, 0) + 1
            answer = self.first if n == 1 else self.then
            response.answer.append(dns.rrset.from_text(q.name, 0, "IN", "A", answer))

    def lookup(self, name: str) -> list[str]:
        """An A query over UDP to this server, as a stub resolver sends it."""
        reply = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=self.port, timeout=2)
        return [r.address for rrset in reply.answer for r in rrset]


def rebinding_getaddrinfo(server: RebindingDns, real: Callable[..., Any]) -> Callable[..., Any]:
    """A getaddrinfo that asks `server` for names under .rebind.test and the system for everything else."""

    def getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host or "")
        if not name.lower().rstrip(".").endswith(REBIND_SUFFIX):
            return real(host, port, family, type, proto, flags)
        port_number = int(port) if isinstance(port, int | str) and str(port).isdigit() else 0
        kind = type or socket.SOCK_STREAM
        return [(socket.AF_INET, kind, proto or socket.IPPROTO_TCP, "", (a, port_number)) for a in server.lookup(name)]

    return getaddrinfo


class CountingListener:
    """A TCP port that accepts, counts and closes every connection: the place nothing should reach.

    `talkers` counts the connections that sent a request (any bytes): on a machine where other test runs sweep
    127.0.0.1 with connect scans, that is what tells a fetch from someone else's port scan."""

    def __init__(self, host: str, port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(128)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.talkers = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._listen, args=(conn,), daemon=True).start()

    def _listen(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(1.0)
            try:
                if conn.recv(64):
                    self.talkers += 1
            except OSError:
                pass

    def __enter__(self) -> CountingListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def free_port_on_both(*hosts: str) -> int:
    """A port number free on every one of `hosts` (loopback addresses), so two listeners can share it."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((hosts[0], 0))
            port = probe.getsockname()[1]
        ok = True
        for h in hosts:
            with socket.socket() as s:
                try:
                    s.bind((h, port))
                except OSError:
                    ok = False
        if ok:
            return port
    raise RuntimeError("no port free on all of " + ", ".join(hosts))


Route = Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]]


@contextlib.contextmanager
def scripted_http(route: Route, host: str = "127.0.0.1", port: int = 0) -> Iterator[tuple[int, list[dict]]]:
    """An HTTP server answering every GET and POST with route(handler); yields (port, log of {path, host} seen,
    plus the body of a POST)."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({"path": self.path, "host": self.headers.get("Host", "")})
            status, headers, body = route(self)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.do_GET()
            seen[-1]["body"] = body

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    with serving(server) as port:
        yield port, seen

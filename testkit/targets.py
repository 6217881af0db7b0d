"""Scan targets the tests start on 127.0.0.1: open TCP ports, a careless HTTP server, a weak TLS server.

Each is a context manager that yields the port it listens on and stops the server on exit, so any test
(the scanner tests, the lifecycle test, the benchmark) can point a real scanner at it:

    with open_ports(3) as ports, http_target() as web, tls_target() as tls:
        ...  # scan 127.0.0.1:<ports>, http://127.0.0.1:<web>/, https://localhost:<tls>/

Every server runs in daemon threads and binds port 0 (the kernel picks a free port), so tests can run side
by side.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import selectors
import socket
import socketserver
import ssl
import tempfile
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOST = "127.0.0.1"
SERVER_BANNER = "Apache/2.4.41 (Ubuntu) PHP/7.4.3"  # a banner that leaks product and version
INSECURE_COOKIE = "sessionid=0123456789abcdef; Path=/"  # no Secure, no HttpOnly, no SameSite


# --- open TCP ports -------------------------------------------------------------------------------------------


@contextlib.contextmanager
def open_ports(count: int = 3, host: str = HOST, ports: list[int] | None = None) -> Iterator[list[int]]:
    """`count` listening TCP ports (or exactly `ports`) that accept and close every connection."""
    socks = []
    try:
        for port in ports or [0] * count:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
            s.listen(128)
            s.setblocking(False)
            socks.append(s)
        stop = threading.Event()
        thread = threading.Thread(target=_accept_and_close, args=(socks, stop), daemon=True)
        thread.start()
        yield sorted(s.getsockname()[1] for s in socks)
        stop.set()
        thread.join(timeout=2)
    finally:
        for s in socks:
            s.close()


def _accept_and_close(socks: list[socket.socket], stop: threading.Event) -> None:
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    while not stop.is_set():
        for key, _ in sel.select(0.1):
            try:
                conn, _ = key.fileobj.accept()  # type: ignore[union-attr]
                conn.close()
            except OSError:  # e.g. EMFILE while a test starves the process of descriptors
                stop.wait(0.01)
    sel.close()


# --- HTTP without security headers ----------------------------------------------------------------------------


class _CarelessHandler(BaseHTTPRequestHandler):
    """Answers every GET/HEAD with a page, a leaky Server banner, an insecure cookie and no security headers."""

    extra_headers: dict[str, str] = {}
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return SERVER_BANNER

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _answer(self, body: bool) -> None:
        page = (
            b"<!doctype html><html><head><title>scan target</title></head><body><h1>Hello</h1>"
            b'<form action="/login" method="post"><input name="user"></form></body></html>'
        )
        if self.path.split("?")[0] not in ("/", "/index.html", "/login"):
            self.send_response(404)
            page = b"not found"
        else:
            self.send_response(200)
            self.send_header("Set-Cookie", INSECURE_COOKIE)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        for name, value in dict(self.extra_headers).items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(page)

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


class _QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # scanners reset connections on purpose; a traceback per probe would drown the test output


@contextlib.contextmanager
def serving(server: socketserver.TCPServer) -> Iterator[int]:
    """Serve `server` on a background thread; yields its port, then shuts it down and closes its socket."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=2)


@contextlib.contextmanager
def http_target(extra_headers: dict[str, str] | None = None, host: str = HOST) -> Iterator[int]:
    """An HTTP server missing security headers, with an insecure cookie and a versioned Server banner.

    `extra_headers` is read on every request: add e.g. {"X-Frame-Options": "DENY"} to it while the server runs
    to "fix" one finding between two scans.
    """
    headers = extra_headers if extra_headers is not None else {}
    handler = type("Handler", (_CarelessHandler,), {"extra_headers": headers})
    with serving(_QuietHTTPServer((host, 0), handler)) as port:
        yield port


# --- TLS with a self-signed, short-lived certificate --------------------------------------------------------


def make_self_signed(
    directory: Path, hostname: str = "localhost", days: float = 2.0, not_before_days: float = -1.0
) -> tuple[Path, Path]:
    """A self-signed certificate for `hostname` (and 127.0.0.1) valid from now+not_before_days to now+days.

    Negative `days` makes an already expired certificate. Returns (cert.pem, key.pem).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, hostname),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "scanboard tests"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + dt.timedelta(days=not_before_days))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(hostname), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class _TlsHandler(socketserver.BaseRequestHandler):
    context: ssl.SSLContext

    def handle(self) -> None:
        self.request.settimeout(5)
        with (
            contextlib.suppress(OSError, ssl.SSLError),
            self.context.wrap_socket(self.request, server_side=True) as tls,
        ):
            tls.recv(4096)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")


class _TlsServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@contextlib.contextmanager
def tls_target(
    hostname: str = "localhost", days: float = 2.0, legacy_protocols: bool = False, host: str = HOST
) -> Iterator[int]:
    """A TLS server (Python ssl) with a freshly generated self-signed certificate that expires in `days`.

    `legacy_protocols=True` also offers TLS 1.0/1.1 and weak ciphers (OpenSSL security level 0), so a TLS
    scanner has deprecated protocols to find.
    """
    with tempfile.TemporaryDirectory(prefix="scanboard-tls-") as tmp:
        cert, key = make_self_signed(Path(tmp), hostname=hostname, days=days)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        if legacy_protocols:
            ctx.set_ciphers("ALL:@SECLEVEL=0")
            with warnings.catch_warnings():  # deprecated on purpose: this server is meant to be weak
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version = ssl.TLSVersion.TLSv1
        handler = type("Handler", (_TlsHandler,), {"context": ctx})
        with serving(_TlsServer((host, 0), handler)) as port:
            yield port

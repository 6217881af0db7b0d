"""Tiny DNS servers on 127.0.0.1 (UDP), built with dnspython's own message classes, so the code under test talks
real DNS over the wire: `UdpDnsServer` is the loop, subclasses say what to answer. `TxtServer` answers TXT queries
from a dict (the ownership check's resolver code)."""

from __future__ import annotations

import socket
import threading

import dns.message
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset


class UdpDnsServer:
    """One UDP socket on 127.0.0.1 and a thread that answers each query with `answer` (NXDOMAIN when it adds
    nothing). Use as a context manager, or `start()` / `stop()`."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def answer(self, q: dns.rrset.RRset, response: dns.message.Message) -> None:
        """Add the answer to question `q` to `response`; adding none answers NXDOMAIN."""
        raise NotImplementedError

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(4096)
            except OSError:
                continue
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            self.answer(query.question[0], response)
            if not response.answer:
                response.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(response.to_wire(), addr)

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class TxtServer(UdpDnsServer):
    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, list[str]] = {}  # fully qualified name (trailing dot) -> TXT values

    def answer(self, q: dns.rrset.RRset, response: dns.message.Message) -> None:
        values = self.records.get(q.name.to_text().lower())
        if q.rdtype == dns.rdatatype.TXT and values:
            response.answer.append(dns.rrset.from_text(q.name, 60, "IN", "TXT", *[f'"{v}"' for v in values]))

    def resolver(self) -> dns.resolver.Resolver:
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = ["127.0.0.1"]
        r.port = self.port
        return r

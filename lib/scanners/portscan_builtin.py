"""The builtin TCP port scanner: a non-blocking connect scan on epoll, used when nmap is not installed.

Why not one asyncio task per port: the event-loop overhead makes a full 1-65535 sweep 10-20x slower than nmap,
and with a large concurrency timeouts fire before the loop gets to the answers, so open ports are missed.
Here every connect is issued non-blocking and all answers are collected from one epoll (selectors) wait:
on loopback a sweep of all ports runs in nmap's time class. Three traps a naive scanner falls into are handled:

- a loopback socket can connect to itself (source port == destination port, TCP simultaneous open): that is
  not an open port, so a connection whose own address equals its peer's is dropped;
- running out of file descriptors (EMFILE/ENFILE) or of local ports (EADDRNOTAVAIL) is not "closed": the port is
  queued again, the concurrency shrinks to what the system allows, and the result carries a warning; if not
  even one socket can be opened the scan fails with a reason;
- a port with no answer before the timeout (filtered, or a SYN lost under load) is retried once with a longer
  timeout before it is given up as not open.
"""

from __future__ import annotations

import errno
import json
import resource
import select
import socket
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from lib.core.findings import Asset, Finding
from lib.core.ports import DEFAULT_PORTS, ports_to_scan
from lib.scanners.base import ScanContext, ScannerError, ScannerResult

TOOL = "scanboard-portscan"
VERSION = "1.0"
RAW_FILE = "portscan.json"

_NO_RESOURCE = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_NO_LOCAL_PORT = {errno.EADDRNOTAVAIL, errno.EAGAIN}
_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN}

# A short guess of the service behind a port, for the finding's evidence (nmap -sV gives the real one).
COMMON_SERVICES: dict[int, str] = {
    21: "ftp",
    22: "ssh",
    23: "telnet",
    25: "smtp",
    53: "domain",
    80: "http",
    110: "pop3",
    111: "rpcbind",
    135: "msrpc",
    139: "netbios-ssn",
    143: "imap",
    389: "ldap",
    443: "https",
    445: "microsoft-ds",
    465: "smtps",
    587: "submission",
    631: "ipp",
    636: "ldaps",
    873: "rsync",
    993: "imaps",
    995: "pop3s",
    1433: "ms-sql-s",
    1521: "oracle",
    2049: "nfs",
    2375: "docker",
    2376: "docker-tls",
    2379: "etcd",
    3000: "http-alt",
    3306: "mysql",
    3389: "ms-wbt-server",
    5000: "http-alt",
    5432: "postgresql",
    5601: "kibana",
    5672: "amqp",
    5900: "vnc",
    6379: "redis",
    6443: "kubernetes-api",
    8000: "http-alt",
    8080: "http-proxy",
    8443: "https-alt",
    8501: "streamlit",
    9000: "http-alt",
    9090: "http-alt",
    9200: "elasticsearch",
    10250: "kubelet",
    11211: "memcached",
    12000: "argo-events-webhook",
    27017: "mongodb",
}


def guess_service(port: int) -> str:
    if port in COMMON_SERVICES:
        return COMMON_SERVICES[port]
    try:
        return socket.getservbyport(port, "tcp")
    except OSError:
        return "unknown"


@dataclass
class SweepResult:
    open: list[int]
    filtered: list[int]  # no answer even after the retry
    warnings: list[str] = field(default_factory=list)
    max_concurrency: int = 0


def default_concurrency() -> int:
    """As many sockets at once as the descriptor limit leaves room for, capped where loopback stops gaining."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    room = (soft if soft != resource.RLIM_INFINITY else 65536) - 64
    return max(8, min(2048, room))


def sweep(
    ip: str,
    ports: list[int],
    family: socket.AddressFamily = socket.AF_INET,
    *,
    timeout: float = 1.0,
    concurrency: int | None = None,
    deadline: float | None = None,
) -> SweepResult:
    """Connect-scan `ports` on `ip`; ports that time out get one retry with twice the timeout."""
    limit = concurrency or default_concurrency()
    result = SweepResult(open=[], filtered=[], max_concurrency=limit)
    pending = ports
    for attempt_timeout in (timeout, timeout * 2):
        opened, silent = _sweep_once(ip, pending, family, attempt_timeout, limit, deadline, result.warnings)
        result.open.extend(opened)
        pending = silent
        if not pending:
            break
    result.open.sort()
    result.filtered = sorted(pending)
    return result


def _sweep_once(
    ip: str,
    ports: list[int],
    family: socket.AddressFamily,
    timeout: float,
    limit: int,
    deadline: float | None,
    warnings: list[str],
) -> tuple[list[int], list[int]]:
    """One pass over `ports`: (open, silent) where silent ports gave no answer within `timeout`.

    Connects are issued in batches. Right after a batch, SO_ERROR already holds the answer of every port that
    answered at once (on loopback: all closed ports, refused while connect() ran), so only the connects still
    pending or established go through the poller; that keeps the per-port cost to a few system calls.
    """
    sweep_pass = _SweepPass(ip, ports, family, timeout, limit, warnings)
    sweep_pass.run(deadline)
    if ports and sweep_pass.unreachable == len(ports):
        raise ScannerError(f"Host {ip} is unreachable from here.")
    return sweep_pass.opened, sweep_pass.silent


_NONBLOCK = getattr(socket, "SOCK_NONBLOCK", 0)
_STREAM = socket.SOCK_STREAM | _NONBLOCK


class _SweepPass:
    """One pass's state (ports still to send, connects in flight, answers so far), so each step is a method."""

    def __init__(
        self, ip: str, ports: list[int], family: socket.AddressFamily, timeout: float, limit: int, warnings: list[str]
    ) -> None:
        self.ip, self.family, self.timeout, self.limit, self.warnings = ip, family, timeout, limit, warnings
        self.queue: deque[int] = deque(ports)
        self.inflight: OrderedDict[int, tuple[socket.socket, int, float]] = OrderedDict()  # fd -> (sock, port, expiry)
        self.opened: list[int] = []
        self.silent: list[int] = []
        self.unreachable = 0
        try:
            self.poller = _Poller()
        except OSError as exc:
            raise ScannerError(
                f"The system refuses to open a poller ({exc.strerror or exc}); "
                "raise the open-files limit (ulimit -n) and retry."
            ) from exc

    def run(self, deadline: float | None) -> None:
        """Send, settle, wait and expire until every port has an answer or has been given up."""
        try:
            while self.queue or self.inflight:
                now = time.monotonic()
                if deadline is not None and now > deadline:
                    left = len(self.queue) + len(self.inflight)
                    raise ScannerError(f"Port scan timed out with {left} ports left to probe.")
                batch = self._issue_connects()
                self._settle_batch(batch, expiry=now + self.timeout)
                if not self.inflight:
                    continue
                self._collect_answers(now)
                self._expire_old_connects()
        finally:
            for sock, _, _ in self.inflight.values():
                sock.close()
            self.poller.close()

    def _issue_connects(self) -> list[tuple[socket.socket, int]]:
        """Start connects up to the concurrency limit; those still in progress are returned as the batch."""
        queue, ip, family = self.queue, self.ip, self.family
        batch: list[tuple[socket.socket, int]] = []
        room = self.limit - len(self.inflight)
        while queue and room > 0:
            port = queue.popleft()
            try:
                sock = socket.socket(family, _STREAM)
            except OSError as exc:
                if exc.errno not in _NO_RESOURCE:
                    raise ScannerError(f"Cannot open a socket: {exc}") from exc
                self._back_off(port, len(batch), exc)
                break
            if not _STREAM & _NONBLOCK:
                sock.setblocking(False)
            err = sock.connect_ex((ip, port))
            if err == errno.EINPROGRESS:
                batch.append((sock, port))
                room -= 1
                continue
            if err == 0 and not _self_connected(sock):
                self.opened.append(port)
            elif err in _NO_LOCAL_PORT:
                self._back_off(port, len(batch), OSError(err, "no free local port"))
                sock.close()
                break
            elif err in _UNREACHABLE:
                self.unreachable += 1
            sock.close()
        return batch

    def _back_off(self, port: int, batch_size: int, exc: OSError) -> None:
        """Out of descriptors or local ports is not "closed": probe the port again, with fewer connects at once."""
        self.queue.appendleft(port)
        self.limit = _shrink(self.limit, len(self.inflight) + batch_size, exc, self.warnings)

    def _settle_batch(self, batch: list[tuple[socket.socket, int]], expiry: float) -> None:
        """Answers already in SO_ERROR are final; only connects still pending or established go to the poller."""
        inflight, poller = self.inflight, self.poller
        for sock, port in batch:
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err == 0:  # still connecting, or connected
                fd = sock.fileno()
                inflight[fd] = (sock, port, expiry)
                poller.register(fd)
                continue
            self._note_failure(port, err)
            sock.close()

    def _collect_answers(self, now: float) -> None:
        """Wait for answers until the oldest connect expires, or not at all while there are ports left to send."""
        inflight, poller = self.inflight, self.poller
        wait = 0.0 if self.queue and len(inflight) < self.limit else max(0.0, next(iter(inflight.values()))[2] - now)
        for fd in poller.poll(wait):
            entry = inflight.pop(fd, None)
            if entry is None:
                continue
            sock, port, _ = entry
            poller.unregister(fd)
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err == 0:
                if not _self_connected(sock):
                    self.opened.append(port)
            else:
                self._note_failure(port, err)
            sock.close()

    def _note_failure(self, port: int, err: int) -> None:
        """Unreachable answers are counted (all of them fails the scan); a TCP timeout makes the port silent."""
        if err in _UNREACHABLE:
            self.unreachable += 1
        elif err == errno.ETIMEDOUT:
            self.silent.append(port)

    def _expire_old_connects(self) -> None:
        """Give up on connects older than the timeout (insertion order is expiry order, so stop at a live one)."""
        inflight, now = self.inflight, time.monotonic()
        while inflight:
            fd, (sock, port, exp) = next(iter(inflight.items()))
            if exp > now:
                break
            del inflight[fd]
            self.poller.unregister(fd)
            sock.close()
            self.silent.append(port)


class _Poller:
    """Write-readiness of many sockets: epoll where there is one (Linux), else poll."""

    def __init__(self) -> None:
        self._p: select.epoll | select.poll
        if hasattr(select, "epoll"):
            self._p, self._mask, self._scale = select.epoll(), select.EPOLLOUT | select.EPOLLERR, 1.0
        else:  # pragma: no cover - non-Linux
            self._p, self._mask, self._scale = select.poll(), select.POLLOUT | select.POLLERR, 1000.0

    def register(self, fd: int) -> None:
        self._p.register(fd, self._mask)

    def unregister(self, fd: int) -> None:
        self._p.unregister(fd)

    def poll(self, timeout: float) -> list[int]:
        return [fd for fd, _ in self._p.poll(timeout * self._scale)]

    def close(self) -> None:
        if hasattr(self._p, "close"):
            self._p.close()


def _shrink(limit: int, in_flight: int, exc: OSError, warnings: list[str]) -> int:
    """Lower the concurrency to what the system allows right now; fail when it allows nothing."""
    if in_flight == 0:
        raise ScannerError(
            f"The system refuses to open even one socket ({exc.strerror or exc}); "
            "raise the open-files limit (ulimit -n) and retry."
        )
    new_limit = max(1, in_flight)
    if new_limit < limit:
        name = errno.errorcode.get(exc.errno or 0, "OSError")
        warnings.append(
            f"{name}: concurrency lowered from {limit} to {new_limit}; those ports were re-probed, "
            "not counted as closed."
        )
    return new_limit


def _self_connected(sock: socket.socket) -> bool:
    try:
        return sock.getsockname() == sock.getpeername()
    except OSError:  # not connected after all
        return True


class BuiltinPortScanner:
    """Port scan step without external tools."""

    step = "portscan"
    tool = TOOL

    def available(self) -> bool:
        return True

    def run(self, ctx: ScanContext) -> ScannerResult:
        try:
            ports = ports_to_scan(ctx.options.get("ports", DEFAULT_PORTS), ctx.target)
        except ValueError as exc:
            raise ScannerError(f"Bad port list: {exc}") from exc
        family, ip = ctx.pinned()  # the vetted address, not a fresh DNS answer
        timeout = float(ctx.options.get("connect_timeout", 1.0))
        started = time.monotonic()
        ctx.log(f"{TOOL} {VERSION}: {len(ports)} TCP ports on {ctx.host} ({ip})")
        res = sweep(ip, ports, family, timeout=timeout, deadline=started + ctx.timeout)
        elapsed = time.monotonic() - started
        for w in res.warnings:
            ctx.log(f"warning: {w}")
        findings = [open_port_finding(ctx.host, ip, port, guess_service(port), TOOL, VERSION) for port in res.open]
        raw = {
            "tool": TOOL,
            "version": VERSION,
            "host": ctx.host,
            "ip": ip,
            "ports": str(ctx.options.get("ports", DEFAULT_PORTS)),
            "scanned": len(ports),
            "open": [{"port": p, "service": guess_service(p)} for p in res.open],
            "filtered": res.filtered,
            "warnings": res.warnings,
            "seconds": round(elapsed, 3),
        }
        ctx.raw_dir.mkdir(parents=True, exist_ok=True)
        (ctx.raw_dir / RAW_FILE).write_text(json.dumps(raw, indent=2))
        summary = f"{len(res.open)} open of {len(ports)} TCP ports in {elapsed:.1f} s"
        if res.warnings:
            summary += f" ({len(res.warnings)} warning(s): {res.warnings[0]})"
        return ScannerResult(TOOL, VERSION, findings, [RAW_FILE], summary)


def open_port_finding(
    host: str, ip: str, port: int, service: str, tool: str, version: str, evidence: str = ""
) -> Finding:
    """The one shape of an open-port finding, shared with the nmap parser so both tools de-duplicate."""
    return Finding(
        tool=tool,
        tool_version=version,
        rule_id="open-port",
        title="Open TCP port",
        severity="info",
        confidence="high",
        asset=Asset(host=host, ip=ip, port=port, protocol="tcp"),
        evidence=evidence or f"TCP connect to {ip}:{port} succeeded (service guess: {service})",
        remediation="Close the port or restrict it with a firewall if the service need not be reachable.",
    )

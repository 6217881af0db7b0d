"""The builtin port scanner finds exactly the open ports of a loopback target, and says so in the one schema."""

from __future__ import annotations

import contextlib
import json
import resource
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest

from lib.core.ports import parse_port_spec, ports_to_scan
from lib.scanners import choose
from lib.scanners.base import ScanContext, ScannerError
from lib.scanners.portscan_builtin import BuiltinPortScanner, _self_connected, sweep
from testkit.targets import open_ports


def _ctx(tmp_path, target: str, ports: str) -> ScanContext:
    return ScanContext(
        scan_id="0123456789ab", target=target, options={"ports": ports}, raw_dir=tmp_path / "raw", timeout=60
    )


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("80", [80]),
        ("1-5", [1, 2, 3, 4, 5]),
        ("22,80,443,8000-8002", [22, 80, 443, 8000, 8001, 8002]),
        (" 443 , 80,80 ", [80, 443]),
        ("65535", [65535]),
        (8080, [8080]),
    ],
)
def test_port_spec_parses_lists_and_ranges(spec, expected):
    assert parse_port_spec(spec) == expected


def test_port_spec_full_range():
    assert len(parse_port_spec("1-65535")) == 65535


@pytest.mark.parametrize(
    "spec, hint",
    [
        ("", "Enter ports"),
        ("0", "out of range"),
        ("65536", "out of range"),
        ("80-20", "backwards"),
        ("http", "not a port"),
        ("22,,80", "Empty entry"),
        ("1-2-3", "not a port"),
        ("-5", "not a port"),
        ("٣", "not a port"),
        (None, "Enter ports"),
    ],
)
def test_port_spec_rejects_bad_input_with_a_reason(spec, hint):
    with pytest.raises(ValueError, match=hint):
        parse_port_spec(spec)


def test_finds_exactly_the_open_ports(tmp_path):
    with open_ports(3) as ports:
        lo, hi = ports[0] - 50, ports[-1] + 50
        spec = f"{lo}-{hi}"
        result = BuiltinPortScanner().run(_ctx(tmp_path, f"http://127.0.0.1:{ports[0]}/", spec))
        found = [f.asset.port for f in result.findings]
        # other processes on this machine may listen in the range: check against the kernel's own answer
        expected = sorted(set(ports) | _listening_now(lo, hi))
    assert set(ports) <= set(found)
    assert found == expected
    f = result.findings[0]
    assert (f.tool, f.rule_id, f.severity, f.asset.protocol, f.asset.ip) == (
        "scanboard-portscan",
        "open-port",
        "info",
        "tcp",
        "127.0.0.1",
    )
    assert result.tool_version
    raw = json.loads((tmp_path / "raw" / "portscan.json").read_text())
    assert [p["port"] for p in raw["open"]] == found
    assert result.raw_files == ["portscan.json"]


def test_host_names_are_scanned_at_their_vetted_address_only(tmp_path):
    with open_ports(1) as ports:
        ctx = replace(_ctx(tmp_path, "http://localhost/", str(ports[0])), addresses=("127.0.0.1",))
        result = BuiltinPortScanner().run(ctx)
        with pytest.raises(ScannerError, match="No vetted address"):  # never resolved by the scanner itself
            BuiltinPortScanner().run(_ctx(tmp_path, "http://localhost/", str(ports[0])))
    assert [(f.asset.host, f.asset.ip, f.asset.port) for f in result.findings] == [("localhost", "127.0.0.1", ports[0])]


def test_rescan_gives_identical_fingerprints(tmp_path):
    with open_ports(2) as ports:
        spec = ",".join(map(str, ports))
        first = BuiltinPortScanner().run(_ctx(tmp_path, "http://127.0.0.1/", spec))
        second = BuiltinPortScanner().run(_ctx(tmp_path, "http://127.0.0.1/", spec))
    assert [f.rule_fp for f in first.findings] == [f.rule_fp for f in second.findings]
    assert [f.issue_fp for f in first.findings] == [f.issue_fp for f in second.findings]
    assert len(first.findings) == 2


def test_closed_port_is_not_reported(tmp_path):
    with open_ports(1) as ports:
        closed = ports[0]
    result = BuiltinPortScanner().run(_ctx(tmp_path, "http://127.0.0.1/", str(closed)))
    assert result.findings == []


def test_self_connect_is_not_an_open_port():
    """Hammer ephemeral ports with nothing listening: a socket that connects to itself must not count."""
    lo, hi = (int(x) for x in open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    span = list(range(lo, min(hi, lo + 10000)))
    for _ in range(3):
        with _listeners_seen(span[0], span[-1]) as listening:
            res = sweep("127.0.0.1", span, concurrency=64)
        assert set(res.open) <= listening  # every open port had a real listener (other processes' count too)


@contextlib.contextmanager
def _listeners_seen(lo: int, hi: int) -> Iterator[set[int]]:
    """Every port in [lo, hi] seen listening while the block runs (polled every 5 ms): a server another process
    opens and closes during the sweep is a real open port, not a self-connect."""
    seen, done = _listening_now(lo, hi), threading.Event()

    def poll() -> None:
        while not done.wait(0.005):
            seen.update(_listening_now(lo, hi))

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        yield seen
    finally:
        done.set()
        poller.join()
        seen.update(_listening_now(lo, hi))


def test_a_socket_connected_to_itself_is_recognised():
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        s.connect(s.getsockname())  # TCP simultaneous open with itself: "connected", yet nothing listens
        assert _self_connected(s)
    finally:
        s.close()
    with socket.create_server(("127.0.0.1", 0)) as server, socket.create_connection(server.getsockname()) as c:
        assert not _self_connected(c)


def test_unknown_host_fails_with_reason(tmp_path):
    with pytest.raises(ScannerError, match="No vetted address"):
        BuiltinPortScanner().run(_ctx(tmp_path, "http://no-such-host.invalid/", "80"))


def test_bad_port_option_fails_with_reason(tmp_path):
    with pytest.raises(ScannerError, match="Bad port list"):
        BuiltinPortScanner().run(_ctx(tmp_path, "http://127.0.0.1/", "80-1"))


def test_running_out_of_descriptors_is_reported_not_counted_as_closed():
    """With few free descriptors the scan still finds every open port and warns that it had to slow down;
    with none at all it fails with a reason instead of reporting everything closed."""
    listeners = [socket.create_server(("127.0.0.1", 0), backlog=64) for _ in range(3)]  # no threads: no races
    ports = sorted(s.getsockname()[1] for s in listeners)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    hog: list[socket.socket] = []
    try:
        # leave ~10 free descriptors; the scanner asks for far more concurrency than that
        resource.setrlimit(resource.RLIMIT_NOFILE, (_open_fds() + 10, hard))
        res = sweep("127.0.0.1", sorted(set(ports) | set(range(ports[0] - 300, ports[0] + 300))), concurrency=500)
        # now take every free descriptor
        with contextlib.suppress(OSError):
            while True:
                hog.append(socket.socket())
        with pytest.raises(ScannerError, match="ulimit"):
            sweep("127.0.0.1", ports, concurrency=10)
    finally:
        for s in hog + listeners:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert set(ports) <= set(res.open)
    assert any("EMFILE" in w for w in res.warnings)


def test_registry_falls_back_to_builtin():
    scanner = choose("portscan", prefer="scanboard-portscan")
    assert scanner.tool == "scanboard-portscan" and scanner.available()


def _open_fds() -> int:
    import os

    return len(os.listdir("/proc/self/fd")) - 1  # minus the descriptor listdir itself had open


def _listening_now(lo: int, hi: int) -> set[int]:
    """TCP ports in [lo, hi] in LISTEN state on 127.0.0.1 or any address, from /proc/net/tcp."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            local, state = cols[1], cols[3]
            addr, port_hex = local.rsplit(":", 1)
            port = int(port_hex, 16)
            if (
                state == "0A"
                and lo <= port <= hi
                and addr
                in (
                    "0100007F",
                    "00000000",
                    "00000000000000000000000000000000",
                    "00000000000000000000000001000000",
                    "0000000000000000FFFF00000100007F",
                )
            ):
                found.add(port)
    return found


@pytest.mark.parametrize(
    "spec, target, expected",
    [
        ("20-22", "http://example.com:8443/app", [20, 21, 22, 8443]),
        ("80", "http://example.com/", [80]),
        ("22", "https://example.com/", [22, 443]),
    ],
)
def test_the_target_urls_own_port_is_always_scanned(spec, target, expected):
    assert ports_to_scan(spec, target) == expected


def test_builtin_scan_finds_the_targets_port_outside_the_spec(tmp_path):
    with open_ports(1) as (port,):
        assert port > 1024  # the default spec 1-1024 does not name it
        result = BuiltinPortScanner().run(_ctx(tmp_path, f"http://127.0.0.1:{port}/", "1-1024"))
    assert port in {f.asset.port for f in result.findings}

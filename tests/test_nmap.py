"""nmap really runs against loopback targets; its XML is parsed into the same findings the builtin scanner gives."""

from __future__ import annotations

import pytest

from lib.core.findings import deduplicate
from lib.scanners import choose
from lib.scanners.base import ScanContext, ScannerError
from lib.scanners.nmap import NmapScanner, compact_port_spec, nmap_findings, parse_nmap_xml
from lib.scanners.portscan_builtin import BuiltinPortScanner
from tests.targets import http_target, open_ports
from tests.tools import needs_nmap


def _ctx(tmp_path, target: str, **options) -> ScanContext:
    return ScanContext("0123456789ab", target, options, tmp_path / "raw", timeout=60, addresses=("127.0.0.1",))


def test_compact_port_spec():
    assert compact_port_spec([443, 22, 80, 81, 82, 80]) == "22,80-82,443"
    assert compact_port_spec(list(range(1, 65536))) == "1-65535"


@needs_nmap
def test_nmap_finds_the_open_ports_and_keeps_its_xml(tmp_path):
    with open_ports(3) as ports:
        spec = ",".join(str(p) for p in ports) + f",{ports[0] + 1}-{ports[0] + 20}"
        result = NmapScanner().run(_ctx(tmp_path, "http://127.0.0.1/", ports=spec))
    assert set(ports) <= {f.asset.port for f in result.findings}
    assert result.tool == "nmap" and result.tool_version.startswith("7.")
    xml = (tmp_path / "raw" / "nmap.xml").read_text()
    assert "<nmaprun" in xml and result.raw_files == ["nmap.xml"]
    # the parser gives the same findings from the kept raw file
    assert nmap_findings(parse_nmap_xml(xml), "127.0.0.1") == result.findings
    f = next(f for f in result.findings if f.asset.port == ports[0])
    assert (f.rule_id, f.severity, f.asset.protocol, f.asset.ip) == ("open-port", "info", "tcp", "127.0.0.1")


@needs_nmap
def test_nmap_and_builtin_agree_and_deduplicate(tmp_path):
    with open_ports(3) as ports:
        spec = f"{ports[0] - 30}-{ports[-1] + 30}" if ports[-1] - ports[0] < 3000 else ",".join(map(str, ports))
        by_nmap = NmapScanner().run(_ctx(tmp_path / "a", "http://localhost/", ports=spec)).findings
        by_builtin = BuiltinPortScanner().run(_ctx(tmp_path / "b", "http://localhost/", ports=spec)).findings
    assert [f.asset.port for f in by_nmap] == [f.asset.port for f in by_builtin]
    assert [f.issue_fp for f in by_nmap] == [f.issue_fp for f in by_builtin]
    merged = deduplicate(by_nmap + by_builtin)
    assert len(merged) == len(by_nmap)
    assert all(set(f.tools) == {"nmap", "scanboard-portscan"} for f in merged)


@needs_nmap
def test_rescan_gives_identical_fingerprints(tmp_path):
    with open_ports(2) as ports:
        spec = ",".join(map(str, ports))
        first = NmapScanner().run(_ctx(tmp_path / "1", "http://127.0.0.1/", ports=spec)).findings
        second = NmapScanner().run(_ctx(tmp_path / "2", "http://127.0.0.1/", ports=spec)).findings
    assert [(f.rule_fp, f.issue_fp) for f in first] == [(f.rule_fp, f.issue_fp) for f in second]
    assert len(first) == 2


@needs_nmap
@pytest.mark.slow
def test_service_version_names_the_product(tmp_path):
    with http_target() as port:
        result = NmapScanner().run(_ctx(tmp_path, f"http://127.0.0.1:{port}/", ports=str(port), service_version="true"))
    (f,) = result.findings
    assert "http" in f.evidence and "Apache httpd 2.4.41" in f.evidence


@needs_nmap
def test_timeout_is_a_clear_step_failure(tmp_path):
    ctx = _ctx(tmp_path, "http://127.0.0.1/", ports="1-65535")
    ctx.timeout = 0.05
    with pytest.raises(ScannerError, match="nmap timed out"):
        NmapScanner().run(ctx)


def test_bad_port_option_fails_before_running(tmp_path):
    with pytest.raises(ScannerError, match="Bad port list"):
        NmapScanner().run(_ctx(tmp_path, "http://127.0.0.1/", ports="1-70000"))


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "unreadable"),
        ("<nmaprun version='7.93'><host>", "unreadable"),
        ("<html><body>hi</body></html>", "not nmap XML"),
        ("<nmaprun version='7.93'></nmaprun>", "incomplete"),
        (
            "<nmaprun><runstats><finished exit='error' errormsg='Failed to resolve'/></runstats></nmaprun>",
            "Failed to resolve",
        ),
        (
            "<nmaprun><host><ports><port protocol='tcp' portid='99999'><state state='open'/></port></ports></host>"
            "<runstats><finished exit='success'/></runstats></nmaprun>",
            "invalid port",
        ),
    ],
)
def test_malformed_xml_is_a_clear_step_failure(text, reason):
    with pytest.raises(ScannerError, match=reason):
        parse_nmap_xml(text)


@needs_nmap
def test_registry_prefers_nmap_when_installed():
    assert choose("portscan").tool == "nmap"
    assert choose("portscan", prefer="scanboard-portscan").tool == "scanboard-portscan"

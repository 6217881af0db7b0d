"""nmap really runs against loopback targets; its XML is parsed into the same findings the builtin scanner gives."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from lib.core.findings import deduplicate
from lib.engines.tool_sections import open_ports as ports_table
from lib.scanners import choose
from lib.scanners.base import ScanContext, ScannerError
from lib.scanners.nmap import NmapScanner, compact_port_spec, nmap_command, nmap_findings, parse_nmap_xml
from lib.scanners.portscan_builtin import BuiltinPortScanner
from testkit.targets import SERVER_BANNER, http_target, open_ports, tls_target
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
    assert [f.instance_fp for f in by_nmap] == [f.instance_fp for f in by_builtin]
    merged = deduplicate(by_nmap + by_builtin)
    assert len(merged) == 1  # one finding (open port, host) with the three ports as its instances
    assert sorted(a.port for a in merged[0].affected) == sorted(ports)
    assert merged[0].instance_noun == "ports"
    assert set(merged[0].tools) == {"nmap", "scanboard-portscan"}


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


FIXTURE = Path(__file__).parent / "fixtures" / "nmap" / "nmap-7.93-sV-two-hosts.xml"


def test_real_sv_output_of_two_hosts_keeps_each_host_apart():
    """nmap 7.93 -sV of 127.0.0.1 and 127.0.0.2 (see fixtures/nmap/PROVENANCE.md): each host keeps its own
    address in the asset and the fingerprint; service, product, version and CPE are parsed."""
    report = parse_nmap_xml(FIXTURE.read_bytes())
    assert report.version == "7.93"
    assert {ip: [p.port for p in ports] for ip, ports in report.hosts.items()} == {
        "127.0.0.1": [18080],
        "127.0.0.2": [18081, 18443],
    }
    tls = next(p for p in report.hosts["127.0.0.2"] if p.port == 18443)
    assert (tls.service, tls.tunnel, tls.cpe) == ("http", "ssl", ("cpe:/a:openssl:openssl",))
    web = report.hosts["127.0.0.1"][0]
    assert (web.product, web.version, web.cpe) == ("SimpleHTTPServer", "0.6", ("cpe:/a:python:simplehttpserver:0.6",))
    findings = nmap_findings(report, "target.example")
    assert [(f.asset.host, f.asset.ip, f.asset.port) for f in findings] == [
        ("127.0.0.1", "127.0.0.1", 18080),
        ("127.0.0.2", "127.0.0.2", 18081),
        ("127.0.0.2", "127.0.0.2", 18443),
    ]
    grouped = deduplicate(findings)
    assert len(grouped) == 2 and len({f.issue_fp for f in grouped}) == 2  # one finding per host
    assert "cpe:/a:openssl:openssl" in next(f.evidence for f in findings if f.asset.port == 18443)


def test_one_host_is_named_after_the_target():
    report = parse_nmap_xml(FIXTURE.read_text())
    single = type(report)(report.version, {"127.0.0.1": report.hosts["127.0.0.1"]})
    assert [f.asset.host for f in nmap_findings(single, "target.example")] == ["target.example"]


SCRIPTS_FIXTURE = Path(__file__).parent / "fixtures" / "nmap" / "nmap-7.93-sV-scripts-http-tls.xml"


def test_real_script_output_gives_the_server_header_and_tls_ciphers_in_the_ports_table(tmp_path):
    """nmap 7.93 -sV --script http-headers,ssl-enum-ciphers of testkit's HTTP and legacy TLS targets (see
    fixtures/nmap/PROVENANCE.md): the Server header, the header names, per protocol the cipher suites and the
    least grade are parsed; CPEs stay."""
    report = parse_nmap_xml(SCRIPTS_FIXTURE.read_bytes())
    web, tls = sorted(report.hosts["127.0.0.1"], key=lambda p: p.port)
    assert web.http_server == "Apache/2.4.41 (Ubuntu) PHP/7.4.3"
    assert web.http_headers == ("Server", "Date", "Set-Cookie", "Content-Type", "Content-Length")
    assert web.cpe == ("cpe:/a:apache:http_server:2.4.41",) and not web.tls_ciphers
    assert [name for name, _ in tls.tls_ciphers] == ["TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
    assert "TLS_ECDH_anon_WITH_AES_128_CBC_SHA" in dict(tls.tls_ciphers)["TLSv1.0"]
    assert tls.tls_least == "F" and (tls.tunnel, tls.http_server) == ("ssl", "")
    (tmp_path / "nmap.xml").write_bytes(SCRIPTS_FIXTURE.read_bytes())
    rows = {r["port"]: r for r in ports_table(tmp_path)}
    assert rows["41269/tcp"]["server"] == "Apache/2.4.41 (Ubuntu) PHP/7.4.3"
    assert "set-cookie" in rows["41269/tcp"]["headers"] and rows["41269/tcp"]["tls"] == ""
    assert rows["42079/tcp"]["tls"].startswith("TLSv1.0 (4 ciphers), TLSv1.1 (4 ciphers), TLSv1.2 (")
    assert rows["42079/tcp"]["tls"].endswith("; least grade F")


def test_scripts_are_in_the_command_only_when_opted_in():
    def cmd(**options):
        return nmap_command("80,443", socket.AF_INET, "192.0.2.7", "/raw/nmap.xml", options)

    assert "--script" not in cmd() and "-sV" not in cmd() and "--script" not in cmd(tls_ciphers="false")
    with_sv = cmd(service_version="true")
    assert with_sv[with_sv.index("--script") + 1] == "http-headers" and "-sV" in with_sv
    assert with_sv[with_sv.index("--script-timeout") + 1] == "20s"
    both = cmd(service_version="yes", tls_ciphers="true")
    assert both[both.index("--script") + 1] == "http-headers,ssl-enum-ciphers"
    only_tls = cmd(tls_ciphers="on")
    assert only_tls[only_tls.index("--script") + 1] == "ssl-enum-ciphers" and "-sV" in only_tls
    for argv in (cmd(), with_sv, both, only_tls):  # no DNS, and the pinned address is the only target
        assert "-n" in argv and argv[-1] == "192.0.2.7" and argv.count("192.0.2.7") == 1


@needs_nmap
@pytest.mark.slow
def test_scripts_put_the_server_header_and_tls_grade_in_the_ports_table(tmp_path):
    with http_target() as web, tls_target(legacy_protocols=True) as tls:
        ctx = _ctx(tmp_path, f"http://127.0.0.1:{web}/", ports=f"{tls}", service_version="true", tls_ciphers="true")
        result = NmapScanner().run(ctx)
    assert {f.asset.port for f in result.findings} == {web, tls}
    rows = {r["port"]: r for r in ports_table(tmp_path / "raw")}
    assert rows[f"{web}/tcp"]["server"] == SERVER_BANNER and "set-cookie" in rows[f"{web}/tcp"]["headers"]
    assert "TLSv1.2 (" in rows[f"{tls}/tcp"]["tls"] and rows[f"{tls}/tcp"]["tls"].endswith("least grade F")

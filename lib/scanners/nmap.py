"""Port scan with nmap (`-sT` connect scan, XML output) and the parser of nmap's XML into open-port findings.

nmap is preferred over the builtin scanner when installed: it is the reference tool and, with the
`service_version` option, names the product and version behind each port. `-sV` stays off by default because
it is slow on services that do not answer its probes (measured here: 0.05 s without, 15.6 s with, for four
loopback ports, two of which stay silent). With `-sV` nmap also runs the `http-headers` script (safe), so the
report names the Server header; `tls_ciphers` adds `ssl-enum-ciphers`, opt-in on its own because nmap classes
it intrusive (it makes many handshakes). Scripts connect only to the pinned address nmap scans. The XML parser
is also what reads nmap XML made elsewhere (e.g. by rustscan fronting nmap in the cluster).
"""

from __future__ import annotations

import shutil
import socket
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from lib.core.findings import Finding
from lib.core.ports import DEFAULT_PORTS, ports_to_scan
from lib.core.validation import switch
from lib.scanners.base import ScanContext, ScannerError, ScannerResult
from lib.scanners.portscan_builtin import guess_service, open_port_finding
from lib.scanners.process import run_tool, tool_version

TOOL = "nmap"
RAW_FILE = "nmap.xml"
SCRIPT_TIMEOUT = "20s"  # per script and host: a silent service cannot hold the step until its own timeout


def compact_port_spec(ports: list[int]) -> str:
    """[22, 80, 81, 82] -> "22,80-82": the shortest spec nmap accepts for a sorted port list."""
    runs: list[list[int]] = []
    for p in sorted(set(ports)):
        if runs and p == runs[-1][1] + 1:
            runs[-1][1] = p
        else:
            runs.append([p, p])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


@dataclass(frozen=True)
class NmapPort:
    port: int
    protocol: str
    service: str
    product: str
    version: str
    extrainfo: str
    cpe: tuple[str, ...] = ()  # with -sV: what nmap identified, e.g. cpe:/a:openssl:openssl
    tunnel: str = ""  # "ssl" when -sV found the service behind TLS
    http_server: str = ""  # the Server header (http-server-header / http-headers scripts)
    http_headers: tuple[str, ...] = ()  # the header names http-headers saw
    tls_ciphers: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (protocol, cipher names) from ssl-enum-ciphers
    tls_least: str = ""  # ssl-enum-ciphers' least strength grade, A (best) to F

    def describe(self) -> str:
        product = " ".join(x for x in (self.product, self.version, self.extrainfo) if x)
        name = f"{self.tunnel}/{self.service}" if self.tunnel and self.service else self.service
        return f"{name or 'unknown'}" + (f" ({product})" if product else "")


@dataclass(frozen=True)
class NmapReport:
    version: str
    hosts: dict[str, list[NmapPort]]  # address -> open ports


def parse_nmap_xml(text: str | bytes) -> NmapReport:
    """Open ports per host address from nmap's `-oX` output; ScannerError if it is not a finished nmap run."""
    try:
        root = ET.fromstring(text)
    except (ET.ParseError, ValueError, TypeError) as exc:
        raise ScannerError(f"nmap XML output is unreadable: {exc}") from exc
    if root.tag != "nmaprun":
        raise ScannerError(f"not nmap XML output (root element <{root.tag}>)")
    finished = root.find("runstats/finished")
    if finished is None:
        raise ScannerError("nmap XML output is incomplete (no <runstats><finished>): the scan did not finish.")
    if finished.get("exit") == "error":
        raise ScannerError(f"nmap reported an error: {finished.get('errormsg') or 'no message'}")
    hosts: dict[str, list[NmapPort]] = {}
    for host in root.iter("host"):
        addr = next((a.get("addr") or "" for a in host.findall("address") if a.get("addrtype") in ("ipv4", "ipv6")), "")
        open_ports = []
        for port in host.findall("ports/port"):
            state = port.find("state")
            if state is None or state.get("state") != "open":
                continue
            portid = port.get("portid", "")
            if not (portid.isascii() and portid.isdigit() and len(portid) <= 5 and 0 < int(portid) < 65536):
                raise ScannerError(f"nmap XML has an invalid port number {portid!r}")
            open_ports.append(_port(port, int(portid)))
        hosts.setdefault(addr, []).extend(open_ports)
    return NmapReport(root.get("version", ""), hosts)


def _port(port: ET.Element, number: int) -> NmapPort:
    """One <port> element: the service nmap named (and with -sV, product, version and CPEs)."""
    svc = port.find("service")
    name, product, version, extra, tunnel = (
        (svc.get(k) or "") if svc is not None else "" for k in ("name", "product", "version", "extrainfo", "tunnel")
    )
    cpes = tuple(c.text.strip() for c in (svc.findall("cpe") if svc is not None else ()) if c.text)
    server, headers = _http_scripts(port)
    ciphers, least = _tls_script(port)
    return NmapPort(
        number,
        port.get("protocol", "tcp"),
        name,
        product,
        version,
        extra,
        cpes,
        tunnel,
        server,
        headers,
        ciphers,
        least,
    )


def _http_scripts(port: ET.Element) -> tuple[str, tuple[str, ...]]:
    """The Server header and the header names, from http-server-header and http-headers (text output only)."""
    server = (port.findtext("script[@id='http-server-header']/elem") or "").strip()
    script = port.find("script[@id='http-headers']")
    lines = [line.strip() for line in (script.get("output") or "").splitlines()] if script is not None else []
    pairs = [line.split(":", 1) for line in lines if ":" in line and not line.startswith("(")]
    server = server or next((v.strip() for k, v in pairs if k.strip().lower() == "server"), "")
    return server, tuple(k.strip() for k, _ in pairs)


def _tls_script(port: ET.Element) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], str]:
    """Per protocol the cipher suites accepted, and the least grade, from ssl-enum-ciphers' tables."""
    script = port.find("script[@id='ssl-enum-ciphers']")
    if script is None:
        return (), ""
    protocols = tuple(
        (
            table.get("key", ""),
            tuple(c.findtext("elem[@key='name']") or "" for c in table.findall("table[@key='ciphers']/table")),
        )
        for table in script.findall("table")
    )
    return protocols, (script.findtext("elem[@key='least strength']") or "").strip()


def nmap_findings(report: NmapReport, hostname: str) -> list[Finding]:
    """One open-port finding per open TCP port, in the same shape as the builtin scanner's.

    The target's name is the host when nmap scanned one address; with several hosts each keeps its own address
    as its host, so they stay apart in the findings and their fingerprints."""
    findings = []
    several = len(report.hosts) > 1
    for ip, ports in sorted(report.hosts.items()):
        for p in sorted(ports, key=lambda p: p.port):
            if p.protocol != "tcp":
                continue
            evidence = f"nmap: {p.port}/tcp open {p.describe()}" + (f" [{', '.join(p.cpe)}]" if p.cpe else "")
            findings.append(
                open_port_finding(
                    ip if several or not hostname else hostname,
                    ip,
                    p.port,
                    p.service or guess_service(p.port),
                    TOOL,
                    report.version,
                    evidence=evidence,
                )
            )
    return findings


def _wants(options: dict[str, Any], name: str) -> bool:
    """An on/off option read as validation reads it (a word the switch does not know is off)."""
    return switch(options.get(name, "")) == "true"


def nmap_command(spec: str, family: int, ip: str, xml_path: str, options: dict[str, Any]) -> list[str]:
    """nmap's argv: a connect scan of the pinned address only (`-n`, no DNS); `-sV` with http-headers when
    `service_version` is set; ssl-enum-ciphers (intrusive) only when `tls_ciphers` is, with `-sV` so TLS is
    found on any port. Scripts are bounded by --script-timeout."""
    cmd = ["nmap", "-sT", "-Pn", "-n", "-T4", "--open", "-p", spec, "-oX", xml_path]
    if family == socket.AF_INET6:
        cmd.append("-6")
    scripts = (["http-headers"] if _wants(options, "service_version") else []) + (
        ["ssl-enum-ciphers"] if _wants(options, "tls_ciphers") else []
    )
    if scripts:
        cmd += ["-sV", "--script", ",".join(scripts), "--script-timeout", SCRIPT_TIMEOUT]
    return [*cmd, ip]


class NmapScanner:
    """Port scan step with nmap, when the binary is installed."""

    step = "portscan"
    tool = TOOL

    def available(self) -> bool:
        return shutil.which("nmap") is not None

    def run(self, ctx: ScanContext) -> ScannerResult:
        try:
            ports = ports_to_scan(ctx.options.get("ports", DEFAULT_PORTS), ctx.target)
        except ValueError as exc:
            raise ScannerError(f"Bad port list: {exc}") from exc
        family, ip = ctx.pinned()  # the vetted address, never resolved again, never a string nmap reads as an option
        ctx.raw_dir.mkdir(parents=True, exist_ok=True)
        xml_path = ctx.raw_dir / RAW_FILE
        cmd = nmap_command(compact_port_spec(ports), family, ip, str(xml_path), ctx.options)
        run = run_tool(
            cmd, timeout=ctx.timeout, raw_dir=ctx.raw_dir, name=TOOL, stderr_file="nmap.stderr.txt", log=ctx.log
        )
        try:
            text = xml_path.read_bytes()
        except OSError as exc:
            raise ScannerError(f"nmap wrote no XML report: {exc}") from exc
        report = parse_nmap_xml(text)
        version = report.version or tool_version(["nmap", "--version"])
        findings = nmap_findings(report, ctx.host)
        ctx.log(f"nmap {version}: {len(findings)} open TCP ports in {run.seconds:.1f} s")
        return ScannerResult(
            TOOL,
            version,
            findings,
            [RAW_FILE],
            f"{len(findings)} open of {len(ports)} TCP ports in {run.seconds:.1f} s (nmap {version})",
        )

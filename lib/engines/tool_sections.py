"""Per-tool sections of the report, read from the scanners' raw output beside the findings: open ports with
service, version, Server header and TLS ciphers (nmap XML and its scripts), a TLS summary (sslyze JSON:
protocols, cipher suites, certificate chain and expiry), the pages crawled with the response headers seen
(web.json), and what each scanner ran with.

Raw files are evidence, not input we trust: a file that does not read is left out with a note, never a failure
of the report.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from lib.engines.workspace import ScanMeta, StepOutcome
from lib.scanners.base import ScannerError
from lib.scanners.nmap import NmapPort, parse_nmap_xml
from lib.scanners.sslyze_tls import LEGACY_PROTOCOLS, MODERN_PROTOCOLS

PROTOCOL_NAMES = {key: name for key, name, _ in LEGACY_PROTOCOLS} | {
    "tls_1_2_cipher_suites": "TLSv1.2",
    "tls_1_3_cipher_suites": "TLSv1.3",
}
MAX_PAGES = 50


def _tls_ciphers(p: NmapPort) -> str:
    """ "TLSv1.2 (5 ciphers), TLSv1.3 (3 ciphers); least grade A" from ssl-enum-ciphers, "" when it did not run."""
    protocols = ", ".join(f"{name} ({len(ciphers)} ciphers)" for name, ciphers in p.tls_ciphers)
    return protocols + (f"; least grade {p.tls_least}" if p.tls_least else "")


def open_ports(raw: Path) -> list[dict[str, str]]:
    """One row per open TCP port nmap saw, with what -sV and its scripts named behind it."""
    path = raw / "nmap.xml"
    if not path.is_file():
        return []
    report = parse_nmap_xml(path.read_bytes())
    return [
        {
            "host": ip,
            "port": f"{p.port}/{p.protocol}",
            "service": (f"{p.tunnel}/" if p.tunnel else "") + (p.service or "unknown"),
            "version": " ".join(x for x in (p.product, p.version, p.extrainfo) if x),
            "cpe": ", ".join(p.cpe),
            "server": p.http_server,
            "headers": ", ".join(h.lower() for h in p.http_headers),
            "tls": _tls_ciphers(p),
        }
        for ip, ports in sorted(report.hosts.items())
        for p in sorted(ports, key=lambda p: p.port)
    ]


def _accepted(result: dict[str, Any], key: str) -> int:
    attempt = result.get(key) or {}
    inner = attempt.get("result") or {}
    return len(inner.get("accepted_cipher_suites") or []) if inner.get("is_tls_version_supported") else 0


def _chain(result: dict[str, Any]) -> list[dict[str, str]]:
    info = (result.get("certificate_info") or {}).get("result") or {}
    deployments = info.get("certificate_deployments") or []
    chain = deployments[0].get("received_certificate_chain") or [] if deployments else []
    return [
        {
            "subject": (c.get("subject") or {}).get("rfc4514_string", ""),
            "issuer": (c.get("issuer") or {}).get("rfc4514_string", ""),
            "not_after": str(c.get("not_valid_after", ""))[:10],
        }
        for c in chain
    ]


def tls_summary(raw: Path) -> list[dict[str, Any]]:
    """Per TLS server sslyze reached: accepted protocols with their cipher-suite counts and the chain."""
    path = raw / "sslyze.json"
    if not path.is_file():
        return []
    out: list[dict[str, Any]] = []
    for server in json.loads(path.read_text()).get("server_scan_results") or []:
        loc = server.get("server_location") or {}
        where = f"{loc.get('hostname', '')}:{loc.get('port', '')}"
        if server.get("connectivity_status") != "COMPLETED":
            out.append({"server": where, "protocols": "no TLS handshake", "chain": []})
            continue
        result = server.get("scan_result") or {}
        keys = [k for k, _, _ in LEGACY_PROTOCOLS] + list(MODERN_PROTOCOLS)
        accepted = [f"{PROTOCOL_NAMES[k]} ({n} suites)" for k in keys if (n := _accepted(result, k))]
        out.append({"server": where, "protocols": ", ".join(accepted) or "none", "chain": _chain(result)})
    return out


def pages_crawled(raw: Path) -> list[dict[str, str]]:
    """The pages the web baseline fetched, with their status and the response header names."""
    path = raw / "web.json"
    if not path.is_file():
        return []
    pages = json.loads(path.read_text()).get("pages") or []
    return [
        {
            "url": str(p.get("url", "")),
            "status": str(p.get("status", "")),
            "headers": ", ".join(sorted(str(h).lower() for h in (p.get("headers") or {}))),
        }
        for p in pages[:MAX_PAGES]
    ]


def _duration(step: StepOutcome) -> str:
    try:
        seconds = (datetime.fromisoformat(step.finished_at) - datetime.fromisoformat(step.started_at)).total_seconds()
    except (TypeError, ValueError):
        return ""
    return f"{seconds:.1f} s"


def ran_with(meta: ScanMeta, steps: list[StepOutcome]) -> list[dict[str, str]]:
    """What each scanner ran with: tool, version, the options asked for, how long it took."""
    return [
        {
            "step": s.step,
            "tool": f"{s.tool} {s.tool_version}".strip() or "—",
            "options": ", ".join(f"{k}={v}" for k, v in sorted((meta.scanners.get(s.step) or {}).items()))
            or "defaults",
            "duration": _duration(s),
            "state": s.state,
        }
        for s in steps
    ]


def tool_sections(raw: Path, meta: ScanMeta, steps: list[StepOutcome]) -> dict[str, Any]:
    """Every per-tool section; one that cannot be read becomes a note instead."""
    sections: dict[str, Any] = {"ran_with": ran_with(meta, steps), "notes": []}
    for name, build in (("ports", open_ports), ("tls", tls_summary), ("pages", pages_crawled)):
        try:
            sections[name] = build(raw)
        except (OSError, ValueError, TypeError, AttributeError, KeyError, ScannerError) as exc:
            sections[name] = []
            sections["notes"].append(f"The raw {name} output could not be read: {exc}"[:300])
    return sections

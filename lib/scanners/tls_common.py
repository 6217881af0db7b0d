"""What the two TLS scanners (builtin and sslyze) must agree on: which port they check and how a port without
TLS is reported, so either tool gives the same answer and their findings de-duplicate into one row."""

from __future__ import annotations

from lib.core.findings import Asset, Finding
from lib.scanners.base import ScanContext, ScannerError


def tls_port(ctx: ScanContext) -> int:
    """The `port` option, else the URL's port for https, else 443; ScannerError for a port that cannot exist,
    so a typo is reported as such instead of as "no TLS on port 70000"."""
    option = ctx.options.get("port")
    try:
        port = int(option or 0)
    except (TypeError, ValueError) as exc:
        raise ScannerError(f"Bad TLS port option {option!r}: ports are whole numbers from 1 to 65535.") from exc
    if port:
        if not 0 < port < 65536:
            raise ScannerError(f"Bad TLS port option {port}: ports are 1 to 65535.")
        return port
    return ctx.port if ctx.scheme == "https" else 443


def tls_unavailable_finding(tool: str, version: str, asset: Asset, evidence: str) -> Finding:
    """A refused or silent TLS port is a site without HTTPS: one rule id, CWE and remediation for both tools."""
    return Finding(
        tool,
        "tls-unavailable",
        f"No TLS service on port {asset.port}",
        "medium",
        asset,
        version,
        "high",
        ("CWE-319",),
        evidence=evidence,
        remediation="Serve the site over HTTPS (TLS 1.2 or newer).",
    )

"""The builtin TLS check with Python's ssl module: is TLS offered, is the certificate trusted, valid for the
host name, not expired or about to, not self-signed; are legacy protocol versions accepted. sslyze, when
installed, goes further (cipher suites, Heartbleed, ROBOT)."""

from __future__ import annotations

import json
import socket
import ssl
from dataclasses import replace
from datetime import UTC, datetime

from cryptography import x509

from lib.core.findings import Asset, Finding
from lib.scanners.base import ScanContext, ScannerError, ScannerResult
from lib.scanners.tls_common import tls_port, tls_unavailable_finding

TOOL = "scanboard-tls"
VERSION = "1.0"
EXPIRY_WARNING_DAYS = 30
LEGACY_VERSIONS = (("TLSv1", ssl.TLSVersion.TLSv1, "high"), ("TLSv1.1", ssl.TLSVersion.TLSv1_1, "medium"))


def _handshake(ip: str, host: str, port: int, context: ssl.SSLContext, timeout: float) -> ssl.SSLSocket:
    """TCP to the vetted address `ip`; SNI and the certificate check use the name `host`."""
    raw = socket.create_connection((ip, port), timeout=timeout)
    try:
        return context.wrap_socket(raw, server_hostname=host)
    except BaseException:
        raw.close()
        raise


def _legacy_context(version: ssl.TLSVersion) -> ssl.SSLContext | None:
    """A client context that offers exactly one legacy version, or None if this OpenSSL cannot offer it."""
    try:
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        c.check_hostname = False
        c.verify_mode = ssl.CERT_NONE
        c.set_ciphers("ALL:@SECLEVEL=0")
        c.minimum_version = version
        c.maximum_version = version
        return c
    except (ssl.SSLError, ValueError):
        return None


def _peer_certificate(ip: str, host: str, port: int, timeout: float) -> tuple[bytes, dict]:
    """(DER certificate, negotiated version and cipher) from a handshake that verifies nothing, so a bad
    certificate is still read and judged. No listener or no answer propagates: that is a finding, not a failure."""
    unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    try:
        with _handshake(ip, host, port, unverified, timeout) as s:
            der = s.getpeercert(binary_form=True)
            negotiated = {"version": s.version(), "cipher": s.cipher()}
    except (ConnectionRefusedError, TimeoutError):
        raise
    except (ssl.SSLError, OSError) as e:
        raise ScannerError(f"TLS handshake with {host}:{port} failed: {e}") from None
    if not der:
        raise ScannerError(f"{host}:{port} sent no certificate")
    return der, negotiated


def _offered_legacy_versions(ip: str, host: str, port: int, timeout: float) -> list[tuple[str, str]]:
    """(name, severity) of each legacy version a one-version handshake succeeds with; versions this OpenSSL
    cannot offer are skipped, as nothing can be said about them."""
    offered = []
    for name, version, severity in LEGACY_VERSIONS:
        ctx_legacy = _legacy_context(version)
        if ctx_legacy is None:
            continue
        try:
            with _handshake(ip, host, port, ctx_legacy, timeout):
                offered.append((name, severity))
        except (ssl.SSLError, OSError):
            pass
    return offered


def _legacy_protocol_finding(name: str, severity: str, asset: Asset) -> Finding:
    """One finding per accepted legacy version, told apart by `param` (same shape as sslyze's)."""
    return Finding(
        TOOL,
        f"protocol-{name.lower()}",
        f"Legacy protocol {name} accepted",
        severity,
        replace(asset, param=name),
        VERSION,
        "high",
        ("CWE-327",),
        evidence=f"A {name} handshake with {asset.host}:{asset.port} succeeded.",
        remediation="Accept only TLS 1.2 and TLS 1.3.",
    )


class BuiltinTls:
    step = "tls"
    tool = TOOL

    def available(self) -> bool:
        return True

    def run(self, ctx: ScanContext) -> ScannerResult:
        host, port = ctx.host, tls_port(ctx)
        _, ip = ctx.pinned()
        timeout = min(15.0, ctx.timeout)
        asset = Asset(host=host, port=port, protocol="tcp", url=f"https://{host}:{port}/")
        raw: dict = {"host": host, "port": port}
        try:
            der, negotiated = _peer_certificate(ip, host, port, timeout)
        except (ConnectionRefusedError, TimeoutError) as e:
            (ctx.raw_dir / "tls.json").write_text(json.dumps({**raw, "error": str(e)}))
            finding = tls_unavailable_finding(TOOL, VERSION, asset, f"Connecting to {host}:{port}: {e}")
            return ScannerResult(TOOL, VERSION, [finding], ["tls.json"], f"no TLS on {host}:{port}")
        raw.update(negotiated)
        cert = x509.load_der_x509_certificate(der)
        findings = self._certificate_findings(cert, asset) + self._trust_findings(ip, host, port, timeout, der, asset)
        offered = _offered_legacy_versions(ip, host, port, timeout)
        findings += [_legacy_protocol_finding(name, severity, asset) for name, severity in offered]
        raw.update(
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            not_after=cert.not_valid_after_utc.isoformat(),
            legacy_versions=[name for name, _ in offered],
        )
        (ctx.raw_dir / "tls.json").write_text(json.dumps(raw, indent=2, default=str))
        return ScannerResult(
            TOOL, VERSION, findings, ["tls.json"], f"{raw['version']} on {host}:{port}, {len(findings)} finding(s)"
        )

    def _certificate_findings(self, cert: x509.Certificate, asset: Asset) -> list[Finding]:
        out = []
        now = datetime.now(UTC)
        not_after = cert.not_valid_after_utc
        if not_after <= now:
            out.append(
                Finding(
                    TOOL,
                    "cert-expired",
                    "TLS certificate has expired",
                    "high",
                    asset,
                    VERSION,
                    "high",
                    ("CWE-298",),
                    evidence=f"notAfter {not_after.isoformat()}",
                    remediation="Renew the certificate.",
                )
            )
        elif (not_after - now).days < EXPIRY_WARNING_DAYS:
            out.append(
                Finding(
                    TOOL,
                    "cert-expiring",
                    f"TLS certificate expires within {EXPIRY_WARNING_DAYS} days",
                    "medium",
                    asset,
                    VERSION,
                    "high",
                    ("CWE-298",),
                    evidence=f"notAfter {not_after.isoformat()}",
                    remediation="Renew the certificate, ideally automatically (ACME).",
                )
            )
        if cert.issuer == cert.subject:
            out.append(
                Finding(
                    TOOL,
                    "cert-self-signed",
                    "TLS certificate is self-signed",
                    "medium",
                    replace(asset, param="issuer"),
                    VERSION,
                    "high",
                    ("CWE-295",),
                    evidence=f"issuer = subject = {cert.subject.rfc4514_string()}",
                    remediation="Use a certificate from a publicly trusted CA.",
                )
            )
        return out

    def _trust_findings(self, ip: str, host: str, port: int, timeout: float, der: bytes, asset: Asset) -> list[Finding]:
        """The default context's verdict; OpenSSL names only the first problem it meets, so when that is the
        chain, the host name is judged on its own as well."""
        reason = _verify_failure(ip, host, port, timeout, ssl.create_default_context())
        if reason is None:
            return []
        if _is_name_mismatch(reason):
            return [_name_mismatch_finding(reason, host, asset)]
        out = [_untrusted_finding(reason, asset)]
        # the certificate itself as the only trust anchor: the chain cannot fail, only the name (checked first)
        own = ssl.create_default_context(cadata=der)
        own.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        name_reason = _verify_failure(ip, host, port, timeout, own)
        if name_reason is not None and _is_name_mismatch(name_reason):
            out.append(_name_mismatch_finding(name_reason, host, asset))
        return out


def _verify_failure(ip: str, host: str, port: int, timeout: float, context: ssl.SSLContext) -> str | None:
    """Why `context` refuses the server's certificate; None when it accepts it or the handshake fails otherwise
    (a broken handshake was already reported by the unverified one)."""
    try:
        with _handshake(ip, host, port, context, timeout):
            return None
    except ssl.SSLCertVerificationError as e:
        return e.verify_message or str(e)
    except (ssl.SSLError, OSError):
        return None


def _is_name_mismatch(reason: str) -> bool:
    return "hostname" in reason.lower() or "ip address mismatch" in reason.lower()


def _name_mismatch_finding(reason: str, host: str, asset: Asset) -> Finding:
    return Finding(
        TOOL,
        "cert-hostname-mismatch",
        "TLS certificate does not match the host name",
        "high",
        asset,
        VERSION,
        "high",
        ("CWE-297",),
        evidence=reason,
        remediation=f"Use a certificate whose subjectAltName covers {host}.",
    )


def _untrusted_finding(reason: str, asset: Asset) -> Finding:
    return Finding(
        TOOL,
        "cert-untrusted",
        "TLS certificate is not trusted",
        "high",
        replace(asset, param="chain"),
        VERSION,
        "high",
        ("CWE-295",),
        evidence=reason,
        remediation="Use a certificate from a publicly trusted CA and send the full chain.",
    )

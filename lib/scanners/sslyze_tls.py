"""TLS scan with sslyze (its CLI, `--json_out`) and the parser of sslyze's JSON into normalised findings.

sslyze goes further than the builtin `ssl` checks: every protocol version from SSL 2.0 to TLS 1.3 with the cipher
suites each accepts, certificate trust against the major trust stores, and Heartbleed, ROBOT, CCS injection,
compression and renegotiation. Findings that both tools can report (legacy protocols, certificate expiry,
self-signed, untrusted, host-name mismatch) use the builtin scanner's rule ids, CWEs and asset shape, so the two
de-duplicate into one row when both run.

sslyze runs as a child process (not through its Python API) so the step's timeout can stop it for sure.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lib.core.findings import Asset, Finding, canonical_url
from lib.scanners.base import ScanContext, ScannerError, ScannerResult
from lib.scanners.process import run_tool
from lib.scanners.tls_common import tls_port, tls_unavailable_finding

TOOL = "sslyze"
RAW_FILE = "sslyze.json"
EXPIRY_WARNING_DAYS = 30  # the builtin TLS check's threshold
SCAN_COMMANDS = (
    "--certinfo",
    "--sslv2",
    "--sslv3",
    "--tlsv1",
    "--tlsv1_1",
    "--tlsv1_2",
    "--tlsv1_3",
    "--heartbleed",
    "--robot",
    "--openssl_ccs",
    "--reneg",
    "--compression",
    "--fallback",
)

# sslyze's result key -> (name the builtin uses, severity when accepted)
LEGACY_PROTOCOLS = (
    ("ssl_2_0_cipher_suites", "SSLv2", "critical"),
    ("ssl_3_0_cipher_suites", "SSLv3", "high"),
    ("tls_1_0_cipher_suites", "TLSv1", "high"),
    ("tls_1_1_cipher_suites", "TLSv1.1", "medium"),
)
MODERN_PROTOCOLS = ("tls_1_2_cipher_suites", "tls_1_3_cipher_suites")


@dataclass(frozen=True)
class WeakCipherRule:
    key: str
    title: str
    severity: str
    cwe: str
    remediation: str


# A cipher suite is weak for the first rule that matches it; each rule gives one finding listing its suites.
WEAK_CIPHER_RULES = (
    WeakCipherRule(
        "null", "Cipher suites without encryption (NULL) accepted", "high", "CWE-319", "Disable NULL cipher suites."
    ),
    WeakCipherRule(
        "anon",
        "Anonymous cipher suites (no server authentication) accepted",
        "high",
        "CWE-287",
        "Disable anonymous (aNULL, ADH, AECDH) cipher suites: they allow man-in-the-middle attacks.",
    ),
    WeakCipherRule(
        "weak-encryption",
        "Weak cipher suites accepted (EXPORT, DES, 3DES, RC4, RC2, IDEA or < 128 bits)",
        "medium",
        "CWE-326",
        "Offer only AEAD suites (AES-GCM, ChaCha20-Poly1305) with ECDHE key exchange.",
    ),
    WeakCipherRule(
        "md5",
        "Cipher suites with MD5 message authentication accepted",
        "medium",
        "CWE-328",
        "Disable cipher suites that use MD5.",
    ),
)


def classify_cipher(name: str, key_size: int, is_anonymous: bool) -> WeakCipherRule | None:
    """Which weakness (if any) an accepted cipher suite has, from its IANA name and key size."""
    n = name.upper()
    if "_NULL_" in n or n.endswith("_NULL") or key_size == 0:
        return WEAK_CIPHER_RULES[0]
    if is_anonymous or "_ANON_" in n:
        return WEAK_CIPHER_RULES[1]
    if re.search(r"EXPORT|_DES_|DES40|_DES_CBC|3DES|DES_CBC3|_RC4_|_RC2_|_IDEA_", n) or key_size < 128:
        return WEAK_CIPHER_RULES[2]
    if n.endswith("_MD5"):
        return WEAK_CIPHER_RULES[3]
    return None


def hostname_matches(host: str, dns_names: list[str], ip_addresses: list[str]) -> bool:
    """RFC 6125 style: IP targets match iPAddress SANs, names match dNSName SANs (one leading wildcard label)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        return any(_same_ip(ip, a) for a in ip_addresses)
    host = host.lower().rstrip(".")
    for pattern in dns_names:
        p = pattern.lower().rstrip(".")
        if p == host:
            return True
        if p.startswith("*.") and "." in host and host.split(".", 1)[1] == p[2:]:
            return True
    return False


def _same_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, text: str) -> bool:
    try:
        return ipaddress.ip_address(text) == ip
    except ValueError:
        return False


# --- parsing ----------------------------------------------------------------------------------------------------


class _Bad(Exception):
    """The JSON does not have the shape sslyze writes."""


def _obj(d: Any, key: str) -> dict[str, Any]:
    v = d.get(key) if isinstance(d, dict) else None
    if not isinstance(v, dict):
        raise _Bad(f"{key!r} is not an object")
    return v


def _opt_obj(d: Any, key: str) -> dict[str, Any] | None:
    v = d.get(key) if isinstance(d, dict) else None
    if v is None:
        return None
    if not isinstance(v, dict):
        raise _Bad(f"{key!r} is not an object")
    return v


def _list(d: Any, key: str) -> list[Any]:
    v = d.get(key) if isinstance(d, dict) else None
    if v is None:
        return []
    if not isinstance(v, list):
        raise _Bad(f"{key!r} is not a list")
    return v


def _str(d: Any, key: str) -> str:
    v = d.get(key) if isinstance(d, dict) else None
    if v is None:
        return ""
    if not isinstance(v, str):
        raise _Bad(f"{key!r} is not a string")
    return v


def _int(d: Any, key: str, default: int = 0) -> int:
    v = d.get(key) if isinstance(d, dict) else None
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int):
        raise _Bad(f"{key!r} is not a number")
    return v


def _time(text: str) -> datetime:
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _Bad(f"bad timestamp {text!r}") from exc
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def parse_sslyze_json(text: str | bytes, host: str = "", now: datetime | None = None) -> tuple[str, list[Finding]]:
    """(sslyze version, findings) from a `--json_out` document; ScannerError if it is not one or the server was
    unreachable. `host` is the name the user asked for (defaults to the hostname sslyze scanned)."""
    try:
        doc = json.loads(text)
    except (ValueError, TypeError, RecursionError) as exc:
        raise ScannerError(f"sslyze JSON output is unreadable: {exc}") from exc
    try:
        return _parse(doc, host, now or datetime.now(UTC))
    except _Bad as exc:
        raise ScannerError(f"sslyze JSON output has an unexpected shape: {exc}") from exc
    except (RecursionError, OverflowError) as exc:
        raise ScannerError(f"sslyze JSON output is unusable: {exc}") from exc


# sslyze major version -> the key its JSON gives the certificate's DNS subjectAltNames under
# (5.x wrote pydantic's alias "dns"; 6.0 renamed it "dns_names").
SAN_DNS_KEY = {"5": "dns", "6": "dns_names"}


def san_dns_key(version: str) -> str:
    """Which SAN key this sslyze version writes; ScannerError naming the version when we do not know it."""
    key = SAN_DNS_KEY.get(version.split(".", 1)[0])
    if key is None:
        known = ", ".join(f"{major}.x" for major in SAN_DNS_KEY)
        shown = version or "(no version given)"
        raise ScannerError(f"sslyze {shown} output is not a version scanboard reads ({known})")
    return key


def _parse(doc: Any, host: str, now: datetime) -> tuple[str, list[Finding]]:
    if not isinstance(doc, dict) or "server_scan_results" not in doc:
        raise _Bad("no server_scan_results")
    version = _str(doc, "sslyze_version")
    results = _list(doc, "server_scan_results")
    if not results:
        bad = _list(doc, "invalid_server_strings")
        raise ScannerError(f"sslyze scanned nothing{': ' + json.dumps(bad)[:300] if bad else ''}")
    dns_key = san_dns_key(version)
    findings: list[Finding] = []
    for server in results:
        findings.extend(_server_findings(server, host, version, now, dns_key))
    return version, findings


def _server_findings(server: Any, host: str, version: str, now: datetime, dns_key: str) -> list[Finding]:
    """Every finding for one server sslyze scanned, in a fixed order: protocols, ciphers, certificate, attacks."""
    host, asset = _server_asset(server, host)
    if _str(server, "connectivity_status") != "COMPLETED":
        return [_unreachable_finding(server, asset, version)]
    srv = _Server(_obj(server, "scan_result"), asset, version)
    legacy = _legacy_protocol_findings(srv)
    out = [*legacy, *_no_modern_tls_findings(srv), *_weak_cipher_findings(srv)]
    ci = srv.result("certificate_info")
    if ci:
        out.extend(_certificate_findings(ci, host, now, srv, dns_key))
    out.extend(_vulnerability_findings(srv, legacy_offered=bool(legacy)))
    return out


def _server_asset(server: Any, host: str) -> tuple[str, Asset]:
    """(host, asset) from the server's location; refused here if the URL could not be fingerprinted later."""
    loc = _obj(server, "server_location")
    host = host or _str(loc, "hostname")
    port = _int(loc, "port")
    if not 0 < port < 65536:
        raise _Bad(f"bad port {port}")
    ip = _str(loc, "ip_address")
    url = f"https://[{host}]:{port}/" if ":" in host else f"https://{host}:{port}/"
    try:
        canonical_url(url)  # what the fingerprints hash: must not fail later
    except ValueError as exc:
        raise _Bad(f"bad host name {host[:100]!r}") from exc
    return host, Asset(host=host, ip=ip, port=port, protocol="tcp", url=url)


def _unreachable_finding(server: Any, asset: Asset, version: str) -> Finding:
    """A port with no TLS behind it is a finding; any other failed handshake is a step failure, not a result."""
    trace = _str(server, "connectivity_error_trace").strip().splitlines()
    reason = trace[-1] if trace else "no reason given"
    if "rejected the connection" in reason or "timed out" in reason.lower() or "refused" in reason.lower():
        return tls_unavailable_finding(TOOL, version, asset, f"sslyze: {reason[-300:]}")
    raise ScannerError(f"sslyze could not complete a TLS handshake with {asset.host}:{asset.port}: {reason[-300:]}")


@dataclass(frozen=True)
class _Server:
    """One server's scan results and the asset its findings name, so each check needs only this one value."""

    scan: dict[str, Any]
    asset: Asset
    version: str

    def result(self, key: str) -> dict[str, Any] | None:
        """A scan command's result; None when it was not run or did not complete (then it proves nothing)."""
        attempt = _opt_obj(self.scan, key)
        if attempt is None or _str(attempt, "status") != "COMPLETED":
            return None
        return _opt_obj(attempt, "result")

    def flag(self, key: str, field: str, value: bool) -> bool:
        """Whether a command's result has `field` set to exactly `value` (missing or not run is neither)."""
        return (self.result(key) or {}).get(field) is value

    def finding(
        self,
        rule_id: str,
        title: str,
        severity: str,
        cwe: tuple[str, ...] = (),
        cve: tuple[str, ...] = (),
        evidence: str = "",
        remediation: str = "",
        param: str = "",
        refs: tuple[str, ...] = (),
    ) -> Finding:
        """A finding on this server; `param` tells apart findings on the same port in the fingerprint."""
        asset = self.asset
        a = Asset(asset.host, asset.ip, asset.port, asset.protocol, asset.url, param)
        return Finding(TOOL, rule_id, title, severity, a, self.version, "high", cwe, cve, evidence, remediation, refs)


def _legacy_protocol_findings(srv: _Server) -> list[Finding]:
    """One finding per legacy protocol the server accepts (with at least one suite), named as the builtin does."""
    out: list[Finding] = []
    for key, name, severity in LEGACY_PROTOCOLS:
        r = srv.result(key)
        if r and r.get("is_tls_version_supported") is True and _list(r, "accepted_cipher_suites"):
            out.append(
                srv.finding(
                    f"protocol-{name.lower()}",
                    f"Legacy protocol {name} accepted",
                    severity,
                    ("CWE-327",),
                    evidence=f"sslyze: {name} accepted with {len(_list(r, 'accepted_cipher_suites'))} cipher suites",
                    remediation="Accept only TLS 1.2 and TLS 1.3.",
                    param=name,
                )
            )
    return out


def _no_modern_tls_findings(srv: _Server) -> list[Finding]:
    """No TLS 1.2/1.3 suite is a finding only when sslyze did try those versions (a skipped check proves nothing)."""
    results = [srv.result(k) for k in MODERN_PROTOCOLS]
    scanned_modern = any(r is not None for r in results)
    modern = any(_list(r, "accepted_cipher_suites") for r in results if r)
    if not scanned_modern or modern:
        return []
    return [
        srv.finding(
            "protocol-no-modern-tls",
            "Neither TLS 1.2 nor TLS 1.3 is offered",
            "high",
            ("CWE-757",),
            evidence="sslyze: no cipher suite accepted with TLS 1.2 or TLS 1.3",
            remediation="Enable TLS 1.2 and TLS 1.3.",
            param="modern-protocols",
        )
    ]


def _weak_cipher_findings(srv: _Server) -> list[Finding]:
    """One finding per weakness (not per suite), listing every accepted suite with it across all versions."""
    weak: dict[str, tuple[WeakCipherRule, set[str]]] = {}
    for key in [k for k, _, _ in LEGACY_PROTOCOLS] + list(MODERN_PROTOCOLS):
        for item in _list(srv.result(key) or {}, "accepted_cipher_suites"):
            suite = _obj(item, "cipher_suite")
            name = _str(suite, "name")
            rule = classify_cipher(name, _int(suite, "key_size", 128), suite.get("is_anonymous") is True)
            if rule:
                weak.setdefault(rule.key, (rule, set()))[1].add(name)
    return [
        srv.finding(
            f"weak-cipher-{rule.key}",
            rule.title,
            rule.severity,
            (rule.cwe,),
            evidence="Accepted: " + ", ".join(sorted(names)),
            remediation=rule.remediation,
            param=f"cipher:{rule.key}",
        )
        for rule, names in sorted(weak.values(), key=lambda x: x[0].key)
    ]


@dataclass(frozen=True)
class _FlagCheck:
    """A known TLS attack that one field of one scan command proves: `field` is exactly `bad` in `command`'s
    result. Severity, CWE and CVE say what it lets an attacker do."""

    command: str
    field: str
    bad: bool
    rule_id: str
    title: str
    severity: str
    cwe: tuple[str, ...]
    cve: tuple[str, ...]
    evidence: str
    remediation: str
    refs: tuple[str, ...] = ()

    def findings(self, srv: _Server) -> list[Finding]:
        if not srv.flag(self.command, self.field, self.bad):
            return []
        f = (self.rule_id, self.title, self.severity, self.cwe, self.cve, self.evidence, self.remediation)
        return [srv.finding(*f, refs=self.refs)]


# Heartbleed leaks server memory (keys included), hence critical.
HEARTBLEED = _FlagCheck(
    "heartbleed",
    "is_vulnerable_to_heartbleed",
    True,
    "heartbleed",
    "Vulnerable to Heartbleed",
    "critical",
    ("CWE-126",),
    ("CVE-2014-0160",),
    "sslyze: the server answered a malformed heartbeat with its memory",
    "Upgrade OpenSSL and rotate the server's keys and certificates.",
    refs=("https://heartbleed.com/",),
)
AFTER_ROBOT = (
    # OpenSSL's early ChangeCipherSpec bug lets a man in the middle pick the session keys.
    _FlagCheck(
        "openssl_ccs_injection",
        "is_vulnerable_to_ccs_injection",
        True,
        "ccs-injection",
        "Vulnerable to OpenSSL CCS injection",
        "high",
        ("CWE-310",),
        ("CVE-2014-0224",),
        "sslyze: early ChangeCipherSpec accepted",
        "Upgrade OpenSSL.",
    ),
    # TLS compression leaks secrets through ciphertext length (CRIME).
    _FlagCheck(
        "tls_compression",
        "supports_compression",
        True,
        "tls-compression",
        "TLS compression enabled (CRIME)",
        "medium",
        ("CWE-200",),
        ("CVE-2012-4929",),
        "sslyze: the server accepts DEFLATE compression",
        "Disable TLS-level compression.",
    ),
    # Two separate renegotiation problems: no RFC 5746 (injection) and client-initiated renegotiation (DoS).
    _FlagCheck(
        "session_renegotiation",
        "supports_secure_renegotiation",
        False,
        "insecure-renegotiation",
        "Secure renegotiation not supported",
        "medium",
        ("CWE-310",),
        ("CVE-2009-3555",),
        "sslyze: no RFC 5746 renegotiation_info",
        "Upgrade the TLS stack so it supports secure renegotiation (RFC 5746).",
    ),
    _FlagCheck(
        "session_renegotiation",
        "is_vulnerable_to_client_renegotiation_dos",
        True,
        "client-renegotiation-dos",
        "Client-initiated renegotiation allowed (DoS)",
        "low",
        ("CWE-400",),
        (),
        "sslyze: the client could renegotiate repeatedly",
        "Disable client-initiated renegotiation.",
    ),
)


def _vulnerability_findings(srv: _Server, legacy_offered: bool) -> list[Finding]:
    """The known TLS attacks sslyze probed for, one check each, in a fixed order."""
    return [
        *HEARTBLEED.findings(srv),
        *_robot_findings(srv),
        *(f for check in AFTER_ROBOT for f in check.findings(srv)),
        *_fallback_scsv_findings(srv, legacy_offered),
    ]


def _robot_findings(srv: _Server) -> list[Finding]:
    """ROBOT is high with a strong oracle (practical to exploit), medium with a weak one."""
    r = srv.result("robot")
    robot = _str(r, "robot_result") if r else ""
    if not robot.startswith("VULNERABLE"):
        return []
    strong = robot == "VULNERABLE_STRONG_ORACLE"
    return [
        srv.finding(
            "robot",
            "Vulnerable to ROBOT (RSA padding oracle)",
            "high" if strong else "medium",
            ("CWE-203",),
            ("CVE-2017-13099",),
            f"sslyze: {robot}",
            "Disable RSA key exchange cipher suites (TLS_RSA_*) or patch the TLS stack.",
            refs=("https://robotattack.org/",),
        )
    ]


def _fallback_scsv_findings(srv: _Server, legacy_offered: bool) -> list[Finding]:
    """No TLS_FALLBACK_SCSV matters only when there is a legacy protocol to be downgraded to."""
    if not (srv.flag("tls_fallback_scsv", "supports_fallback_scsv", False) and legacy_offered):
        return []
    return [
        srv.finding(
            "no-fallback-scsv",
            "TLS_FALLBACK_SCSV not supported (downgrade possible)",
            "low",
            ("CWE-757",),
            (),
            "sslyze: the server ignores TLS_FALLBACK_SCSV",
            "Support TLS_FALLBACK_SCSV, or better, disable the legacy protocols.",
            param="fallback-scsv",
        )
    ]


def _certificate_findings(
    ci: dict[str, Any], host: str, now: datetime, srv: _Server, dns_key: str = "dns_names"
) -> list[Finding]:
    """Findings on the leaf certificate of the first deployment (the one a default client gets)."""
    deployments = _list(ci, "certificate_deployments")
    if not deployments:
        return []
    dep = deployments[0]
    if not isinstance(dep, dict):
        raise _Bad("certificate deployment is not an object")
    chain = _list(dep, "received_certificate_chain")
    if not chain or not isinstance(chain[0], dict):
        raise _Bad("no received certificate")
    leaf = chain[0]
    return [
        *_validity_findings(leaf, now, srv),
        *_self_signed_findings(leaf, srv),
        *_untrusted_findings(dep, srv),
        *_hostname_findings(leaf, host, srv, dns_key),
        *_weak_crypto_findings(leaf, srv),
    ]


def _validity_findings(leaf: dict[str, Any], now: datetime, srv: _Server) -> list[Finding]:
    """Expired, expiring soon (the builtin's threshold) or not yet valid, judged against `now`."""
    out: list[Finding] = []
    not_after, not_before = _time(_str(leaf, "not_valid_after")), _time(_str(leaf, "not_valid_before"))
    if not_after <= now:
        out.append(
            srv.finding(
                "cert-expired",
                "TLS certificate has expired",
                "high",
                ("CWE-298",),
                evidence=f"notAfter {not_after.isoformat()}",
                remediation="Renew the certificate.",
            )
        )
    elif (not_after - now).days < EXPIRY_WARNING_DAYS:
        out.append(
            srv.finding(
                "cert-expiring",
                f"TLS certificate expires within {EXPIRY_WARNING_DAYS} days",
                "medium",
                ("CWE-298",),
                evidence=f"notAfter {not_after.isoformat()}",
                remediation="Renew the certificate, ideally automatically (ACME).",
            )
        )
    if not_before > now:
        out.append(
            srv.finding(
                "cert-not-yet-valid",
                "TLS certificate is not yet valid",
                "high",
                ("CWE-298",),
                evidence=f"notBefore {not_before.isoformat()}",
                remediation="Fix the certificate dates.",
                param="notBefore",
            )
        )
    return out


def _self_signed_findings(leaf: dict[str, Any], srv: _Server) -> list[Finding]:
    """Issuer equal to subject: the certificate vouches for itself."""
    subject = _str(_obj(leaf, "subject"), "rfc4514_string")
    issuer = _str(_obj(leaf, "issuer"), "rfc4514_string")
    if not (subject and subject == issuer):
        return []
    return [
        srv.finding(
            "cert-self-signed",
            "TLS certificate is self-signed",
            "medium",
            ("CWE-295",),
            evidence=f"issuer = subject = {subject}",
            remediation="Use a certificate from a publicly trusted CA.",
            param="issuer",
        )
    ]


def _untrusted_findings(dep: dict[str, Any], srv: _Server) -> list[Finding]:
    """Untrusted only when no trust store sslyze checked accepts the chain (one store is enough for clients)."""
    validations = [v for v in _list(dep, "path_validation_results") if isinstance(v, dict)]
    if not validations or any(v.get("was_validation_successful") is True for v in validations):
        return []
    stores = sorted({_str(_opt_obj(v, "trust_store") or {}, "name") for v in validations} - {""})
    reason = _str(validations[0], "validation_error")
    return [
        srv.finding(
            "cert-untrusted",
            "TLS certificate is not trusted",
            "high",
            ("CWE-295",),
            evidence=f"Not trusted by {', '.join(stores) or 'any trust store'}: {reason}"[:500],
            remediation="Use a certificate from a publicly trusted CA and send the full chain.",
            param="chain",
        )
    ]


def _certificate_names(leaf: dict[str, Any], dns_key: str) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) the certificate covers: its SANs, else the subject's common name (legacy)."""
    san = _opt_obj(leaf, "subject_alternative_name") or {}
    dns = [x for x in _list(san, dns_key) if isinstance(x, str)]
    ips = [x for x in _list(san, "ip_addresses") if isinstance(x, str)]
    if not dns and not ips:  # no SAN: fall back to the subject's common name
        dns = [
            a["value"]
            for a in _list(_obj(leaf, "subject"), "attributes")
            if isinstance(a, dict)
            and isinstance(a.get("oid"), dict)
            and a["oid"].get("name") == "commonName"
            and isinstance(a.get("value"), str)
        ]
    return dns, ips


def _hostname_findings(leaf: dict[str, Any], host: str, srv: _Server, dns_key: str) -> list[Finding]:
    """The certificate must cover the host name the user asked for, not just the one sslyze connected to."""
    dns, ips = _certificate_names(leaf, dns_key)
    if not host or hostname_matches(host, dns, ips):
        return []
    return [
        srv.finding(
            "cert-hostname-mismatch",
            "TLS certificate does not match the host name",
            "high",
            ("CWE-297",),
            evidence=f"{host} is not in {', '.join(dns + ips) or 'the certificate'}",
            remediation=f"Use a certificate whose subjectAltName covers {host}.",
        )
    ]


def _weak_crypto_findings(leaf: dict[str, Any], srv: _Server) -> list[Finding]:
    """A MD5/SHA-1 signature or a short key makes the certificate forgeable however the rest is set up."""
    out: list[Finding] = []
    sig = _str(_opt_obj(leaf, "signature_hash_algorithm") or {}, "name").lower()
    if sig in ("md5", "sha1"):
        out.append(
            srv.finding(
                "cert-weak-signature",
                f"TLS certificate signed with {sig.upper()}",
                "medium",
                ("CWE-328",),
                evidence=f"signature hash {sig}",
                param="signature",
                remediation="Reissue the certificate with a SHA-256 (or stronger) signature.",
            )
        )
    key = _opt_obj(leaf, "public_key") or {}
    algo, size = _str(key, "algorithm"), _int(key, "key_size")
    if (algo.startswith(("RSA", "DSA")) and 0 < size < 2048) or (algo.startswith("EC") and 0 < size < 224):
        out.append(
            srv.finding(
                "cert-weak-key",
                f"TLS certificate key is too short ({algo} {size} bits)",
                "medium",
                ("CWE-326",),
                evidence=f"{algo} {size} bits",
                param="key",
                remediation="Reissue the certificate with an RSA 2048+ or ECDSA P-256+ key.",
            )
        )
    return out


# --- running --------------------------------------------------------------------------------------------------


class SslyzeScanner:
    """TLS step with sslyze, when it is importable here (it is pinned in requirements.txt)."""

    step = "tls"
    tool = TOOL

    def available(self) -> bool:
        return importlib.util.find_spec("sslyze") is not None

    def run(self, ctx: ScanContext) -> ScannerResult:
        host, port = ctx.host, tls_port(ctx)
        _, ip = ctx.pinned()  # sslyze connects to the vetted address: host{ip}
        location = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        ctx.raw_dir.mkdir(parents=True, exist_ok=True)
        json_path = ctx.raw_dir / RAW_FILE
        json_path.unlink(missing_ok=True)
        cmd = [
            sys.executable,
            "-W",
            "ignore",
            "-m",
            "sslyze",
            f"--json_out={json_path}",
            "--mozilla_config=disable",
            *SCAN_COMMANDS,
            "--",
            f"{location}{{{ip}}}",
        ]
        run = run_tool(cmd, timeout=ctx.timeout, raw_dir=ctx.raw_dir, name=TOOL, stdout_file="sslyze.txt", log=ctx.log)
        try:
            text = json_path.read_text()
        except OSError as exc:
            raise ScannerError(f"sslyze wrote no JSON report: {exc}") from exc
        version, findings = parse_sslyze_json(text, host)
        ctx.log(f"sslyze {version}: {len(findings)} finding(s) on {host}:{port} in {run.seconds:.1f} s")
        kept = [name for name in (RAW_FILE, "sslyze.txt") if (ctx.raw_dir / name).exists()]
        return ScannerResult(
            TOOL, version, findings, kept, f"{len(findings)} finding(s) on {host}:{port} (sslyze {version})"
        )

"""Rule identity: every tool's own rule id maps to one scanboard rule, and a finding is (rule, asset).

CWE and CVE are attributes of a finding, never its identity: ZAP raises "Timestamp Disclosure", "Suspicious
Comments", "Proxy Disclosure" and "X-Powered-By" all as CWE-200, and in ZAP 2.8 the CSP, X-Frame-Options, HSTS and
X-Content-Type-Options alerts all as CWE-16; keyed on the CWE they would merge into one finding.

`EQUIVALENCES` states, one line per scanboard rule, which tool rules report the same thing (our builtin "missing
CSP" is ZAP's 10038; our TLS 1.0 check is sslyze's). A tool rule that is not listed is a rule of its own,
`<tool>:<tool rule id>`, so two different rules never share an identity by accident.

Tool rule ids are written as the parsers store them (ZAP: `zap-<alertRef or pluginId>`, so `zap-10038-1` is the
variant 1 of plugin 10038). A rule id may be qualified by the finding's parameter (`banner-leak:server`) where one
of our checks covers what a tool splits into several rules.
"""

from __future__ import annotations

WEB, ZAP, TLS, SSLYZE, PORTSCAN, NMAP = (
    "scanboard-web",
    "zap",
    "scanboard-tls",
    "sslyze",
    "scanboard-portscan",
    "nmap",
)

# scanboard rule -> the (tool, tool rule id) pairs that report it.
EQUIVALENCES: dict[str, tuple[tuple[str, str], ...]] = {
    # web: security headers
    "web.missing-csp": ((WEB, "missing-csp"), (ZAP, "zap-10038"), (ZAP, "zap-10038-1")),
    "web.missing-x-frame-options": ((WEB, "missing-x-frame-options"), (ZAP, "zap-10020"), (ZAP, "zap-10020-1")),
    "web.missing-x-content-type-options": ((WEB, "missing-x-content-type-options"), (ZAP, "zap-10021")),
    "web.missing-hsts": ((WEB, "missing-hsts"), (ZAP, "zap-10035"), (ZAP, "zap-10035-1")),
    "web.missing-permissions-policy": ((WEB, "missing-permissions-policy"), (ZAP, "zap-10063"), (ZAP, "zap-10063-1")),
    "web.missing-referrer-policy": ((WEB, "missing-referrer-policy"),),
    # web: version banners (ZAP has one rule per header; our check is one rule qualified by the header)
    "web.banner-server": ((WEB, "banner-leak:server"), (ZAP, "zap-10036")),
    "web.banner-x-powered-by": ((WEB, "banner-leak:x-powered-by"), (ZAP, "zap-10037")),
    "web.banner-x-aspnet-version": ((WEB, "banner-leak:x-aspnet-version"), (ZAP, "zap-10061")),
    "web.banner-x-aspnetmvc-version": ((WEB, "banner-leak:x-aspnetmvc-version"),),
    "web.banner-x-generator": ((WEB, "banner-leak:x-generator"),),
    # web: cookies
    "web.cookie-no-httponly": ((WEB, "cookie-no-httponly"), (ZAP, "zap-10010")),
    "web.cookie-no-secure": ((WEB, "cookie-no-secure"), (ZAP, "zap-10011")),
    "web.cookie-no-samesite": ((WEB, "cookie-no-samesite"), (ZAP, "zap-10054-1")),
    # web: content
    "web.directory-listing": ((WEB, "directory-listing"), (ZAP, "zap-10033"), (ZAP, "zap-0")),
    "web.mixed-content": ((WEB, "mixed-content"), (ZAP, "zap-10040")),
    "web.no-https-redirect": ((WEB, "no-https-redirect"),),
    # TLS: what both the builtin check and sslyze report
    "tls.unavailable": ((TLS, "tls-unavailable"), (SSLYZE, "tls-unavailable")),
    "tls.protocol-tlsv1": ((TLS, "protocol-tlsv1"), (SSLYZE, "protocol-tlsv1")),
    "tls.protocol-tlsv1.1": ((TLS, "protocol-tlsv1.1"), (SSLYZE, "protocol-tlsv1.1")),
    "tls.cert-expired": ((TLS, "cert-expired"), (SSLYZE, "cert-expired")),
    "tls.cert-expiring": ((TLS, "cert-expiring"), (SSLYZE, "cert-expiring")),
    "tls.cert-self-signed": ((TLS, "cert-self-signed"), (SSLYZE, "cert-self-signed")),
    "tls.cert-untrusted": ((TLS, "cert-untrusted"), (SSLYZE, "cert-untrusted")),
    "tls.cert-hostname-mismatch": ((TLS, "cert-hostname-mismatch"), (SSLYZE, "cert-hostname-mismatch")),
    # TLS: sslyze only
    "tls.protocol-sslv2": ((SSLYZE, "protocol-sslv2"),),
    "tls.protocol-sslv3": ((SSLYZE, "protocol-sslv3"),),
    "tls.no-modern-tls": ((SSLYZE, "protocol-no-modern-tls"),),
    "tls.weak-cipher-null": ((SSLYZE, "weak-cipher-null"),),
    "tls.weak-cipher-anon": ((SSLYZE, "weak-cipher-anon"),),
    "tls.weak-cipher-weak-encryption": ((SSLYZE, "weak-cipher-weak-encryption"),),
    "tls.weak-cipher-md5": ((SSLYZE, "weak-cipher-md5"),),
    "tls.cert-not-yet-valid": ((SSLYZE, "cert-not-yet-valid"),),
    "tls.cert-weak-signature": ((SSLYZE, "cert-weak-signature"),),
    "tls.cert-weak-key": ((SSLYZE, "cert-weak-key"),),
    "tls.heartbleed": ((SSLYZE, "heartbleed"),),
    "tls.robot": ((SSLYZE, "robot"),),
    "tls.ccs-injection": ((SSLYZE, "ccs-injection"),),
    "tls.compression": ((SSLYZE, "tls-compression"),),
    "tls.insecure-renegotiation": ((SSLYZE, "insecure-renegotiation"),),
    "tls.client-renegotiation-dos": ((SSLYZE, "client-renegotiation-dos"),),
    "tls.no-fallback-scsv": ((SSLYZE, "no-fallback-scsv"),),
    # ports: nmap names the service behind the port; the rule is the same open port for both scanners
    "port.open": ((PORTSCAN, "open-port"), (NMAP, "open-port")),
}

# Rules whose check does not apply to a target of the given URL scheme: reported as a note, not a finding.
NOT_APPLICABLE_ON: dict[str, str] = {"tls.unavailable": "http"}


def _build_index() -> dict[tuple[str, str], str]:
    index: dict[tuple[str, str], str] = {}
    for rule, sources in EQUIVALENCES.items():
        for source in sources:
            if source in index:
                raise ValueError(f"{source} maps to both {index[source]} and {rule}")
            index[source] = rule
    return index


TOOL_RULES: dict[tuple[str, str], str] = _build_index()


def scanboard_rule(tool: str, tool_rule_id: str, param: str = "") -> str:
    """The scanboard rule a tool's rule id reports; `<tool>:<id>` when the table does not list it."""
    if param:
        qualified = TOOL_RULES.get((tool, f"{tool_rule_id}:{param.lower()}"))
        if qualified:
            return qualified
    return TOOL_RULES.get((tool, tool_rule_id)) or f"{tool}:{tool_rule_id}"

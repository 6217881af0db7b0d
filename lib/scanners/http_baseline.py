"""The builtin web baseline: passive checks of what a site sends, on the target page and same-origin pages
reached within the requested crawl depth. No attack payloads are sent.

Checks: security headers, cookie flags, version-leaking banners, HTTP to HTTPS redirect, mixed content and
directory listings.
"""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
import urllib3

from lib.core.findings import Asset, Finding
from lib.scanners.base import ScanContext, ScannerError, ScannerResult

TOOL = "scanboard-web"
VERSION = "1.0"
MAX_PAGES = 25
MAX_BODY = 2_000_000
USER_AGENT = "scanboard-web-baseline/1.0 (+security scan requested through scanboard)"


@dataclass(frozen=True)
class HeaderRule:
    header: str
    rule_id: str
    title: str
    severity: str
    cwe: str
    remediation: str
    https_only: bool = False


HEADER_RULES: tuple[HeaderRule, ...] = (
    HeaderRule(
        "content-security-policy",
        "missing-csp",
        "Content-Security-Policy header missing",
        "medium",
        "CWE-693",
        "Send a Content-Security-Policy that restricts script, style and frame sources.",
    ),
    HeaderRule(
        "x-frame-options",
        "missing-x-frame-options",
        "Clickjacking protection missing (X-Frame-Options)",
        "medium",
        "CWE-1021",
        "Send X-Frame-Options: DENY (or SAMEORIGIN), or a CSP frame-ancestors directive.",
    ),
    HeaderRule(
        "x-content-type-options",
        "missing-x-content-type-options",
        "X-Content-Type-Options header missing",
        "low",
        "CWE-693",
        "Send X-Content-Type-Options: nosniff.",
    ),
    HeaderRule(
        "referrer-policy",
        "missing-referrer-policy",
        "Referrer-Policy header missing",
        "low",
        "CWE-200",
        "Send Referrer-Policy: strict-origin-when-cross-origin (or stricter).",
    ),
    HeaderRule(
        "permissions-policy",
        "missing-permissions-policy",
        "Permissions-Policy header missing",
        "info",
        "CWE-693",
        "Send a Permissions-Policy that disables browser features the site does not use.",
    ),
    HeaderRule(
        "strict-transport-security",
        "missing-hsts",
        "Strict-Transport-Security header missing",
        "medium",
        "CWE-319",
        "Send Strict-Transport-Security: max-age=31536000; includeSubDomains.",
        https_only=True,
    ),
)
BANNER_HEADERS = ("server", "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version", "x-generator")
_VERSION = re.compile(r"\d+\.\d+")
_LISTING = re.compile(r"<title>\s*(Index of /|Directory listing for )", re.I)


class _Links(HTMLParser):
    """Collects link targets (to crawl) and sub-resource URLs (for mixed content)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.resources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        for key in ("src",) if tag in ("script", "img", "iframe", "audio", "video", "source") else ():
            if a.get(key):
                self.resources.append(a[key])
        if tag == "link" and a.get("href") and "stylesheet" in a.get("rel", ""):
            self.resources.append(a["href"])


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


def _page_url(ctx: ScanContext) -> str:
    parts = urlsplit(ctx.target)
    path = str(ctx.options.get("path") or "/")
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


class HttpBaseline:
    step = "web"
    tool = TOOL

    def available(self) -> bool:
        return True

    def run(self, ctx: ScanContext) -> ScannerResult:
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        session.verify = False  # the TLS scanner judges certificates; here we still want to read the page
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        timeout = min(30.0, ctx.timeout)
        start = _page_url(ctx)
        findings: list[Finding] = []
        pages: list[dict] = []
        try:
            if ctx.scheme == "http":
                findings += self._check_https_redirect(session, start, timeout, ctx)
            queue: deque[tuple[str, int]] = deque([(start, 0)])
            seen = {start}
            depth_limit = int(ctx.options.get("depth", 1))
            while queue and len(pages) < MAX_PAGES:
                url, depth = queue.popleft()
                resp = session.get(url, timeout=timeout, allow_redirects=True, stream=True)
                body = resp.raw.read(MAX_BODY, decode_content=True).decode(resp.encoding or "utf-8", "replace")
                resp.close()
                pages.append(
                    {
                        "url": url,
                        "final_url": resp.url,
                        "status": resp.status_code,
                        "headers": dict(resp.headers),
                        "set_cookie": resp.raw.headers.getlist("Set-Cookie"),
                    }
                )
                ctx.log(f"GET {url} -> {resp.status_code}")
                if len(pages) == 1:
                    findings += self._check_headers(resp, ctx)
                findings += self._check_cookies(resp, ctx)
                parser = _Links()
                try:
                    parser.feed(body)
                except Exception:  # noqa: BLE001 - broken HTML is the site's problem, not a scanner failure
                    pass
                findings += self._check_body(resp.url, body, parser, ctx)
                if depth < depth_limit:
                    for href in parser.links:
                        nxt = urljoin(resp.url, href).split("#")[0]
                        if nxt not in seen and _same_origin(nxt, start):
                            seen.add(nxt)
                            queue.append((nxt, depth + 1))
        except requests.RequestException as e:
            raise ScannerError(f"The site could not be fetched: {type(e).__name__}: {e}") from None
        (ctx.raw_dir / "web.json").write_text(json.dumps({"pages": pages}, indent=2))
        findings = list({f.rule_fp: f for f in findings}.values())
        return ScannerResult(
            TOOL, VERSION, findings, ["web.json"], f"{len(pages)} page(s) checked, {len(findings)} finding(s)"
        )

    def _asset(self, ctx: ScanContext, url: str, param: str = "") -> Asset:
        parts = urlsplit(url)
        return Asset(
            host=ctx.host,
            port=parts.port or (443 if parts.scheme == "https" else 80),
            protocol=parts.scheme,
            url=url,
            param=param,
        )

    def _check_https_redirect(
        self, session: requests.Session, url: str, timeout: float, ctx: ScanContext
    ) -> list[Finding]:
        resp = session.get(url, timeout=timeout, allow_redirects=False)
        location = resp.headers.get("location", "")
        if resp.is_redirect and urljoin(url, location).startswith("https://"):
            return []
        return [
            Finding(
                TOOL,
                "no-https-redirect",
                "HTTP is not redirected to HTTPS",
                "medium",
                self._asset(ctx, url),
                VERSION,
                "high",
                ("CWE-319",),
                evidence=f"GET {url} answered {resp.status_code} without a redirect to https://",
                remediation="Redirect every http:// request to https:// (301) and send HSTS.",
            )
        ]

    def _check_headers(self, resp: requests.Response, ctx: ScanContext) -> list[Finding]:
        out = []
        https = resp.url.startswith("https://")
        csp = resp.headers.get("content-security-policy", "")
        for rule in HEADER_RULES:
            if rule.https_only and not https:
                continue
            if resp.headers.get(rule.header):
                continue
            if rule.header == "x-frame-options" and "frame-ancestors" in csp:
                continue
            out.append(
                Finding(
                    TOOL,
                    rule.rule_id,
                    rule.title,
                    rule.severity,
                    self._asset(ctx, resp.url, rule.header),
                    VERSION,
                    "high",
                    (rule.cwe,),
                    evidence=f"The response to GET {resp.url} has no {rule.header} header.",
                    remediation=rule.remediation,
                )
            )
        for h in BANNER_HEADERS:
            value = resp.headers.get(h, "")
            if value and (_VERSION.search(value) or h != "server"):
                out.append(
                    Finding(
                        TOOL,
                        "banner-leak",
                        f"Software version disclosed in the {h} header",
                        "low",
                        self._asset(ctx, resp.url, h),
                        VERSION,
                        "high",
                        ("CWE-497",),
                        evidence=f"{h}: {value}",
                        remediation=f"Remove the {h} header or strip product versions from it.",
                    )
                )
        return out

    def _check_cookies(self, resp: requests.Response, ctx: ScanContext) -> list[Finding]:
        out = []
        https = resp.url.startswith("https://")
        for raw in resp.raw.headers.getlist("Set-Cookie"):
            name = raw.split("=", 1)[0].strip()
            attrs = {a.strip().split("=", 1)[0].lower() for a in raw.split(";")[1:]}
            checks = (
                (
                    "secure",
                    "cookie-no-secure",
                    "Cookie without the Secure flag",
                    "low" if not https else "medium",
                    "CWE-614",
                    "Set the Secure flag so the cookie is only sent over HTTPS.",
                ),
                (
                    "httponly",
                    "cookie-no-httponly",
                    "Cookie without the HttpOnly flag",
                    "low",
                    "CWE-1004",
                    "Set HttpOnly so scripts cannot read the cookie.",
                ),
                (
                    "samesite",
                    "cookie-no-samesite",
                    "Cookie without a SameSite attribute",
                    "low",
                    "CWE-1275",
                    "Set SameSite=Lax (or Strict) to limit cross-site sending.",
                ),
            )
            for attr, rule_id, title, severity, cwe, fix in checks:
                if attr not in attrs:
                    out.append(
                        Finding(
                            TOOL,
                            rule_id,
                            title,
                            severity,
                            self._asset(ctx, resp.url, name),
                            VERSION,
                            "high",
                            (cwe,),
                            evidence=f"Set-Cookie: {raw[:200]}",
                            remediation=fix,
                        )
                    )
        return out

    def _check_body(self, url: str, body: str, parser: _Links, ctx: ScanContext) -> list[Finding]:
        out = []
        if _LISTING.search(body):
            out.append(
                Finding(
                    TOOL,
                    "directory-listing",
                    "Directory listing enabled",
                    "medium",
                    self._asset(ctx, url),
                    VERSION,
                    "high",
                    ("CWE-548",),
                    evidence=f"{url} shows an index of files.",
                    remediation="Disable automatic directory indexes on the web server.",
                )
            )
        if url.startswith("https://"):
            insecure = sorted({r for r in parser.resources if r.startswith("http://")})
            if insecure:
                out.append(
                    Finding(
                        TOOL,
                        "mixed-content",
                        "Mixed content: page loads resources over HTTP",
                        "medium",
                        self._asset(ctx, url),
                        VERSION,
                        "high",
                        ("CWE-319",),
                        evidence="; ".join(insecure[:5]),
                        remediation="Load every script, style and image over https://.",
                    )
                )
        return out

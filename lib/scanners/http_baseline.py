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
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from lib.core.findings import Asset, Finding
from lib.core.scope import ScopeError, check_target
from lib.core.target_url import URLRejected, parse_target
from lib.scanners.base import ScanContext, ScannerError, ScannerResult
from lib.scanners.pinned_http import pinned_session

TOOL = "scanboard-web"
VERSION = "1.0"
MAX_PAGES = 25
MAX_BODY = 2_000_000
MAX_REDIRECTS = 10
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


class CrawlScope:
    """Where the crawl may go: the target's origin (and its HTTPS upgrade), on the vetted address only.

    Every link and every redirect hop goes through the strict parse and the scope policy; a hop that leaves
    is reported, never fetched."""

    def __init__(self, ctx: ScanContext) -> None:
        self.ctx = ctx
        try:
            self.target = parse_target(ctx.target)
        except URLRejected as e:
            raise ScannerError(str(e)) from None
        self.origins = {self.target.origin}
        if self.target.scheme == "http" and self.target.port == 80:
            self.origins.add(("https", self.target.host, 443))

    def start(self) -> str:
        return self.target.with_path(str(self.ctx.options.get("path") or "/")).url

    def refusal(self, url: str) -> tuple[str, str]:
        """(canonical url, "") when in scope, else (url, why not)."""
        try:
            hop = parse_target(url)
        except URLRejected as e:
            return url, str(e)
        try:  # the target's own name keeps its vetted addresses; another name is never resolved
            check_target(hop, self.ctx.policy, self._no_new_lookups)
        except ScopeError as e:
            return hop.url, str(e)
        if hop.origin not in self.origins:
            return hop.url, "it is another origin (scheme, host or port) than the scanned target's"
        return hop.url, ""

    def _no_new_lookups(self, host: str) -> list[str]:
        if host == self.target.host:
            return list(self.ctx.addresses)
        raise ScopeError(f"{host} is another host than the scanned target")


def _shown(text: str, limit: int = 200) -> str:
    """Attacker-chosen text (a Location header) made printable and short for a finding."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text[:limit])


class HttpBaseline:
    step = "web"
    tool = TOOL

    def available(self) -> bool:
        return True

    def run(self, ctx: ScanContext) -> ScannerResult:
        scope = CrawlScope(ctx)
        _, ip = ctx.pinned()
        session = pinned_session(scope.target, ip)
        session.headers["User-Agent"] = USER_AGENT
        session.verify = False  # the TLS scanner judges certificates; here we still want to read the page
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        timeout = min(30.0, ctx.timeout)
        start = scope.start()
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
                resp, stopped = self._follow(session, scope, url, timeout)
                if resp is None:
                    findings += stopped
                    break  # a redirect out of scope ends the crawl there
                findings += self._check_page(resp, ctx, pages, scope, seen, queue, depth < depth_limit, depth)
        except requests.RequestException as e:
            raise ScannerError(f"The site could not be fetched: {type(e).__name__}: {e}") from None
        (ctx.raw_dir / "web.json").write_text(json.dumps({"pages": pages}, indent=2))
        findings = list({f.rule_fp: f for f in findings}.values())
        return ScannerResult(
            TOOL, VERSION, findings, ["web.json"], f"{len(pages)} page(s) checked, {len(findings)} finding(s)"
        )

    def _follow(
        self, session: requests.Session, scope: CrawlScope, url: str, timeout: float
    ) -> tuple[requests.Response | None, list[Finding]]:
        """GET `url`, following redirects ourselves, at most MAX_REDIRECTS: each Location is parsed and checked
        before it is fetched. (response, []) or (None, [the finding that says why the chain stopped])."""
        chain = [url]
        while True:
            resp = session.get(url, timeout=timeout, allow_redirects=False, stream=True)
            location = resp.headers.get("location")
            if not (resp.is_redirect and location is not None):
                return resp, []
            resp.close()
            scope.ctx.log(f"GET {url} -> {resp.status_code} Location: {_shown(location)}")
            nxt, why = scope.refusal(urljoin(url, location))
            if why:
                return None, [self._stopped(scope.ctx, url, resp.status_code, location, f"not followed: {why}")]
            if nxt in chain or len(chain) > MAX_REDIRECTS:
                why = "a redirect loop" if nxt in chain else f"more than {MAX_REDIRECTS} redirects"
                return None, [self._redirect_limit(scope.ctx, [*chain, nxt], why)]
            chain.append(nxt)
            url = nxt

    def _check_page(
        self,
        resp: requests.Response,
        ctx: ScanContext,
        pages: list[dict],
        scope: CrawlScope,
        seen: set[str],
        queue: deque[tuple[str, int]],
        follow_links: bool,
        depth: int,
    ) -> list[Finding]:
        """The checks on one fetched page; its in-scope links join the queue."""
        body = resp.raw.read(MAX_BODY, decode_content=True).decode(resp.encoding or "utf-8", "replace")
        resp.close()
        pages.append(
            {
                "url": resp.url,
                "status": resp.status_code,
                "headers": dict(resp.headers),
                "set_cookie": resp.raw.headers.getlist("Set-Cookie"),
            }
        )
        ctx.log(f"GET {resp.url} -> {resp.status_code}")
        findings = self._check_headers(resp, ctx) if len(pages) == 1 else []
        findings += self._check_cookies(resp, ctx)
        parser = _Links()
        try:
            parser.feed(body)
        except Exception:  # noqa: BLE001 - broken HTML is the site's problem, not a scanner failure
            pass
        findings += self._check_body(resp.url, body, parser, ctx)
        if follow_links:
            for href in parser.links:
                nxt, why = scope.refusal(urljoin(resp.url, href).split("#")[0])
                if not why and nxt not in seen:
                    seen.add(nxt)
                    queue.append((nxt, depth + 1))
        return findings

    def _stopped(self, ctx: ScanContext, url: str, status: int, location: str, why: str) -> Finding:
        return Finding(
            TOOL,
            "redirect-out-of-scope",
            f"Redirects outside the allowed scope to {_shown(location, 100)}",
            "info",
            self._asset(ctx, url, "location"),
            VERSION,
            "high",
            (),
            evidence=f"GET {url} answered {status} with Location: {_shown(location)}; {why}",
            remediation="Nothing to fix if the redirect is intended: the scan stays on the requested origin.",
        )

    def _redirect_limit(self, ctx: ScanContext, chain: list[str], why: str) -> Finding:
        return Finding(
            TOOL,
            "redirect-limit",
            f"Redirect chain stopped: {why}",
            "info",
            self._asset(ctx, chain[0], "location"),
            VERSION,
            "high",
            (),
            evidence=" -> ".join(_shown(u, 120) for u in chain[:12]),
            remediation="Redirect straight to the final page; browsers give up on long chains and loops.",
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

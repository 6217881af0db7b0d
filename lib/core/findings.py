"""One normalised finding schema for every tool, its fingerprints, de-duplication and scan-to-scan diff.

Fingerprints hash only what identifies a finding (tool, rule, canonical asset, CVE/CWE), never text that changes
between runs (descriptions, evidence, timestamps), so re-scanning an unchanged target gives the same fingerprints.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
CONFIDENCES = ("high", "medium", "low")


@dataclass(frozen=True)
class Asset:
    host: str = ""
    ip: str = ""
    port: int | None = None
    protocol: str = ""
    url: str = ""
    param: str = ""

    def canonical(self) -> str:
        return "|".join(
            [
                self.host.lower().rstrip("."),
                str(self.port or ""),
                self.protocol.lower(),
                canonical_url(self.url),
                self.param,
            ]
        )


@dataclass(frozen=True)
class Finding:
    tool: str
    rule_id: str
    title: str
    severity: str
    asset: Asset = field(default_factory=Asset)
    tool_version: str = ""
    confidence: str = "medium"
    cwe: tuple[str, ...] = ()
    cve: tuple[str, ...] = ()
    evidence: str = ""
    remediation: str = ""
    references: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()  # every tool that reported this issue (after de-duplication)
    steps: tuple[str, ...] = ()  # the pipeline steps (portscan, web, tls) that reported it
    first_seen: str = ""
    last_seen: str = ""

    def __post_init__(self) -> None:
        if self.severity not in SEVERITY_RANK:
            raise ValueError(f"unknown severity {self.severity!r}")
        if not self.tools:
            object.__setattr__(self, "tools", (self.tool,))

    @property
    def rule_fp(self) -> str:
        return _hash(self.tool, self.rule_id, self.asset.canonical())

    @property
    def issue_fp(self) -> str:
        # The parameter (a header or cookie name) is part of the asset: one CWE (e.g. 693) covers several headers.
        key = ",".join(sorted(self.cve)) or ",".join(sorted(self.cwe)) or normalise_title(self.title)
        path = urlsplit(canonical_url(self.asset.url)).path if self.asset.url else ""
        return _hash(
            key, self.asset.host.lower().rstrip("."), str(self.asset.port or ""), path, self.asset.param.lower()
        )

    def with_seen(self, first_seen: str, last_seen: str) -> Finding:
        return replace(self, first_seen=first_seen, last_seen=last_seen)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(rule_fp=self.rule_fp, issue_fp=self.issue_fp)
        for k in ("cwe", "cve", "references", "tools", "steps"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        known = {f for f in cls.__dataclass_fields__}
        kw = {k: v for k, v in d.items() if k in known}
        kw["asset"] = Asset(**d.get("asset", {}))
        for k in ("cwe", "cve", "references", "tools", "steps"):
            kw[k] = tuple(d.get(k, ()))
        return cls(**kw)


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def normalise_title(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", title.lower()).strip()


def canonical_url(url: str) -> str:
    """Scheme and host lower-cased, default port dropped, empty path as '/', no fragment."""
    if not url:
        return ""
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    try:
        port = parts.port
    except ValueError:  # an unparseable port: keep what was written rather than fail the fingerprint
        return urlunsplit((scheme, parts.netloc.lower(), parts.path or "/", parts.query, ""))
    netloc = host if port in (None, {"http": 80, "https": 443}.get(scheme)) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def sort_key(f: Finding) -> tuple[int, str, str]:
    return (SEVERITY_RANK[f.severity], f.title, f.asset.canonical())


def deduplicate(findings: Iterable[Finding]) -> list[Finding]:
    """One row per issue: the most severe report of it is kept and every tool that found it is credited."""
    by_issue: dict[str, Finding] = {}
    for f in findings:
        kept = by_issue.get(f.issue_fp)
        if kept is None:
            by_issue[f.issue_fp] = f
            continue
        best = min(kept, f, key=lambda x: SEVERITY_RANK[x.severity])
        tools = tuple(sorted(set(kept.tools) | set(f.tools)))
        steps = tuple(sorted(set(kept.steps) | set(f.steps)))
        by_issue[f.issue_fp] = replace(best, tools=tools, steps=steps)
    return sorted(by_issue.values(), key=sort_key)


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        counts[f.severity] += 1
    return counts


@dataclass(frozen=True)
class Diff:
    new: list[Finding]
    fixed: list[Finding]
    unchanged: list[Finding]

    def counts(self) -> dict[str, int]:
        return {"new": len(self.new), "fixed": len(self.fixed), "unchanged": len(self.unchanged)}

    def state_of(self, f: Finding) -> str:
        """new or unchanged, for a finding of the current scan."""
        return "unchanged" if any(u.issue_fp == f.issue_fp for u in self.unchanged) else "new"


def diff(current: Iterable[Finding], previous: Iterable[Finding]) -> Diff:
    """New, fixed and unchanged issues between two scans of one target, matched on issue fingerprint.

    An unchanged finding keeps the first_seen of the earlier finding it matches.
    """
    prev = {f.issue_fp: f for f in previous}
    cur = {f.issue_fp: f for f in current}
    new = [f for fp, f in cur.items() if fp not in prev]
    unchanged = [replace(f, first_seen=prev[fp].first_seen or f.first_seen) for fp, f in cur.items() if fp in prev]
    fixed = [f for fp, f in prev.items() if fp not in cur]
    return Diff(sorted(new, key=sort_key), sorted(fixed, key=sort_key), sorted(unchanged, key=sort_key))

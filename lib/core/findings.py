"""One normalised finding schema for every tool, its fingerprints, grouping and scan-to-scan diff.

A finding's identity is (scanboard rule, host): `issue_fp` hashes the rule from lib.core.rules (which maps every
tool's rule id, so equivalent rules of two tools meet) and the host, never CWE/CVE or text that changes between
runs. The URLs, parameters and ports a rule was seen on are the finding's instances (`instance_fp` each).
Stored findings keep working: fingerprints are recomputed from the stored finding data on every read, and a
stored finding without instances is its own single instance (`Finding.from_dict`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from lib.core.rules import NOT_APPLICABLE_ON, scanboard_rule

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

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _ASSET_FIELDS}

    def host_key(self) -> str:
        """The host part of a finding's identity: the name, else the address (nmap's hosts without a name)."""
        return self.host.lower().rstrip(".") or self.ip

    def instance_key(self) -> str:
        """Where on the host: the canonical URL, else port/protocol; plus the parameter (header, cookie, ...)."""
        where = canonical_url(self.url) if self.url else f"{self.port or ''}/{self.protocol.lower()}"
        return f"{where}|{self.param.lower()}"

    def where(self) -> str:
        if self.url:
            return self.url + (f" [{self.param}]" if self.param else "")
        place = f"{self.host or self.ip}:{self.port}/{self.protocol}" if self.port else (self.host or self.ip)
        return place + (f" [{self.param}]" if self.param else "")


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
    instances: tuple[Asset, ...] = ()  # when grouped: every place the rule was seen on this host (see `affected`)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITY_RANK:
            raise ValueError(f"unknown severity {self.severity!r}")
        if not self.tools:
            object.__setattr__(self, "tools", (self.tool,))

    @cached_property
    def rule(self) -> str:
        """The scanboard rule this tool's rule id reports (lib.core.rules)."""
        return scanboard_rule(self.tool, self.rule_id, self.asset.param)

    @cached_property
    def rule_fp(self) -> str:
        """One tool's report at one place: what a parser de-duplicates on."""
        return _hash(self.tool, self.rule_id, self.asset.canonical())

    @cached_property
    def issue_fp(self) -> str:
        """The finding's identity: (scanboard rule, host)."""
        return _hash("rule/2", self.rule, self.asset.host_key())

    @cached_property
    def instance_fp(self) -> str:
        return _hash("instance/2", self.rule, self.asset.host_key(), self.asset.instance_key())

    @property
    def affected(self) -> tuple[Asset, ...]:
        """The places this finding covers: its grouped instances, or just its asset."""
        return self.instances or (self.asset,)

    @property
    def instance_noun(self) -> str:
        """What the instances are, for "Directory listing enabled — 21 URLs"."""
        places, many = self.affected, len(self.affected) > 1
        one_param = len({a.param.lower() for a in places}) <= 1
        if one_param and all(a.url for a in places):
            return "URLs" if many else "URL"
        if one_param and all(not a.url and a.port for a in places):
            return "ports" if many else "port"
        return "instances" if many else "instance"

    def with_seen(self, first_seen: str, last_seen: str) -> Finding:
        return replace(self, first_seen=first_seen, last_seen=last_seen)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, built field by field (dataclasses.asdict deep-copies and was a third of the report
        step's time at 10,000 findings; bench/report.py)."""
        d = {name: getattr(self, name) for name in _FINDING_FIELDS}
        d["asset"] = self.asset.to_dict()
        d["instances"] = [a.to_dict() for a in self.instances]
        for k in ("cwe", "cve", "references", "tools", "steps"):
            d[k] = list(d[k])
        d.update(rule=self.rule, rule_fp=self.rule_fp, issue_fp=self.issue_fp)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        """From to_dict's output, also as stored by earlier versions (no instances, older fingerprints: the
        stored fingerprints are ignored and recomputed, so old records diff against new ones by rule identity)."""
        known = {f for f in cls.__dataclass_fields__}
        kw = {k: v for k, v in d.items() if k in known}
        kw["asset"] = Asset(**d.get("asset", {}))
        kw["instances"] = tuple(Asset(**a) for a in d.get("instances") or ())
        for k in ("cwe", "cve", "references", "tools", "steps"):
            kw[k] = tuple(d.get(k, ()))
        return cls(**kw)


_ASSET_FIELDS = tuple(f.name for f in fields(Asset))
_FINDING_FIELDS = tuple(f.name for f in fields(Finding))


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


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


def _merged(reports: list[Finding]) -> Finding:
    """One finding from every report of one (rule, host): built once per group, so grouping stays linear."""
    if len(reports) == 1:
        return reports[0]
    best = min(reports, key=lambda x: SEVERITY_RANK[x.severity])
    instances: dict[str, Asset] = {}
    for f in reports:
        for a in f.affected:
            instances.setdefault(a.instance_key(), a)
    return replace(
        best,
        tools=tuple(sorted({t for f in reports for t in f.tools})),
        steps=tuple(sorted({s for f in reports for s in f.steps})),
        cwe=tuple(sorted({c for f in reports for c in f.cwe})),
        cve=tuple(sorted({c for f in reports for c in f.cve})),
        instances=tuple(instances.values()) if len(instances) > 1 else (),
        first_seen=min((f.first_seen for f in reports if f.first_seen), default=""),
    )


def group(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per (rule, host) with its instances: the most severe report leads, every tool is credited.

    Linear: each finding's identity is hashed once (cached on the finding) and looked up in a dict."""
    by_issue: dict[str, list[Finding]] = {}
    for f in findings:
        by_issue.setdefault(f.issue_fp, []).append(f)
    return sorted((_merged(reports) for reports in by_issue.values()), key=sort_key)


deduplicate = group  # the name the engines used before findings were grouped


def split_not_applicable(findings: Iterable[Finding], target: str) -> tuple[list[Finding], list[Finding]]:
    """(findings, notes): a check that does not apply to the target (TLS on a plain-HTTP URL) is a note."""
    scheme = urlsplit(target).scheme.lower()
    kept: list[Finding] = []
    notes: list[Finding] = []
    for f in findings:
        (notes if NOT_APPLICABLE_ON.get(f.rule) == scheme else kept).append(f)
    return kept, notes


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Counts findings (rule, host), not their instances."""
    counts = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        counts[f.severity] += 1
    return counts


NOT_COMPARED = "not_compared"  # the scanner that found it did not succeed in the previous scan: nothing to compare


@dataclass(frozen=True)
class Diff:
    new: list[Finding]
    fixed: list[Finding]
    unchanged: list[Finding]
    not_compared: list[Finding] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """new, fixed, unchanged; and not_compared when there are any (most scans have none)."""
        out = {"new": len(self.new), "fixed": len(self.fixed), "unchanged": len(self.unchanged)}
        return out | ({NOT_COMPARED: len(self.not_compared)} if self.not_compared else {})

    @cached_property
    def _unchanged_fps(self) -> frozenset[str]:
        return frozenset(u.issue_fp for u in self.unchanged)

    @cached_property
    def _not_compared_fps(self) -> frozenset[str]:
        return frozenset(u.issue_fp for u in self.not_compared)

    def state_of(self, f: Finding) -> str:
        """new, unchanged or not_compared, for a finding of the current scan (set lookups)."""
        if f.issue_fp in self._not_compared_fps:
            return NOT_COMPARED
        return "unchanged" if f.issue_fp in self._unchanged_fps else "new"


def diff(current: Iterable[Finding], previous: Iterable[Finding], not_compared: Iterable[Finding] = ()) -> Diff:
    """New, fixed and unchanged findings between two scans of one target, matched on identity (rule, host);
    `not_compared` are current findings of scanners that did not succeed in the previous scan, kept apart.

    Both sides are grouped first, so records stored one per URL by earlier versions compare with grouped ones.
    An unchanged finding keeps the first_seen of the earlier finding it matches. Linear in the findings.
    """
    prev = {f.issue_fp: f for f in group(previous)}
    cur = {f.issue_fp: f for f in group(current)}
    new = [f for fp, f in cur.items() if fp not in prev]
    unchanged = [replace(f, first_seen=prev[fp].first_seen or f.first_seen) for fp, f in cur.items() if fp in prev]
    fixed = [f for fp, f in prev.items() if fp not in cur]
    apart = sorted(group(not_compared), key=sort_key)
    return Diff(sorted(new, key=sort_key), sorted(fixed, key=sort_key), sorted(unchanged, key=sort_key), apart)

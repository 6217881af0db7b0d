"""SARIF 2.1.0 export of a scan's findings, for code-scanning dashboards in CI (GitHub, GitLab, Azure).

One rule per (tool, rule id), one result per finding; the issue fingerprint is the result's partial fingerprint
so a dashboard tracks an issue across scans, and the diff state becomes SARIF's baselineState.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lib.core.findings import Finding, sort_key

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub's code scanning ranks security results by this property (a CVSS-like score as a string).
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
BASELINE = {"new": "new", "unchanged": "unchanged", "fixed": "absent"}


def rule_key(f: Finding) -> str:
    return f"{f.tool}/{f.rule_id}"


def _rule(f: Finding) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": rule_key(f),
        "name": f.rule_id,
        "shortDescription": {"text": f.title},
        "defaultConfiguration": {"level": LEVELS[f.severity]},
        "properties": {"security-severity": SECURITY_SEVERITY[f.severity], "tags": ["security", *f.cwe]},
    }
    if f.remediation:
        rule["help"] = {"text": f.remediation}
    if f.references:
        rule["helpUri"] = f.references[0]
    return rule


def _location(f: Finding, target: str) -> dict[str, Any]:
    a = f.asset
    uri = a.url or (f"{a.protocol or 'tcp'}://{a.host}:{a.port}" if a.host and a.port else a.host or target)
    return {"physicalLocation": {"artifactLocation": {"uri": uri}}, "message": {"text": where_text(f)}}


def where_text(f: Finding) -> str:
    a = f.asset
    parts = [a.url or a.host, f"port {a.port}" if a.port else "", f"parameter {a.param}" if a.param else ""]
    return ", ".join(p for p in parts if p) or "target"


def _result(f: Finding, rule_index: int, target: str, diff_state: str) -> dict[str, Any]:
    text = f.title + (f": {f.evidence}" if f.evidence else "")
    result: dict[str, Any] = {
        "ruleId": rule_key(f),
        "ruleIndex": rule_index,
        "level": LEVELS[f.severity],
        "message": {"text": text[:4000]},
        "locations": [_location(f, target)],
        "partialFingerprints": {"scanboardIssue/v1": f.issue_fp, "scanboardRule/v1": f.rule_fp},
        "properties": {"severity": f.severity, "confidence": f.confidence, "tools": list(f.tools)},
    }
    if diff_state in BASELINE:
        result["baselineState"] = BASELINE[diff_state]
    return result


def to_sarif(
    findings: Iterable[tuple[Finding, str]],
    target: str,
    scan_id: str,
    tool_version: str = "",
    information_uri: str = "",
) -> dict[str, Any]:
    """A SARIF log with one run for a scan. `findings` pairs each finding with its diff state
    (new | unchanged | fixed | "" when the scan was not compared)."""
    ordered = sorted(findings, key=lambda p: sort_key(p[0]))
    rules: dict[str, int] = {}
    rule_objs: list[dict[str, Any]] = []
    results = []
    for f, state in ordered:
        if rule_key(f) not in rules:
            rules[rule_key(f)] = len(rule_objs)
            rule_objs.append(_rule(f))
        results.append(_result(f, rules[rule_key(f)], target, state))
    driver: dict[str, Any] = {"name": "scanboard", "rules": rule_objs}
    if tool_version:
        driver["version"] = tool_version
    if information_uri:
        driver["informationUri"] = information_uri
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "automationDetails": {"id": f"scanboard/{scan_id}"},
        "results": results,
        "properties": {"target": target, "scanId": scan_id},
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}

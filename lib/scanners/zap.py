"""OWASP ZAP baseline: the parser of ZAP's JSON report (`zap-baseline.py -J`) and, where ZAP is installed
(the `ghcr.io/zaproxy/zaproxy` image), a runner.

In the cluster ZAP runs in its own pod and the worker parses its report afterwards
(`python -m lib.worker parse web --tool zap --input .../raw/zap.json`), so the parser is the part both engines
share. ZAP's JSON report (the "traditional JSON" template of ZAP's reports add-on) is
`{"@version", "site": [{"@name", "@host", "@port", "@ssl", "alerts": [{"pluginid", "alertRef", "alert", "name",
"riskcode", "confidence", "desc", "instances": [{"uri", "method", "param", "attack", "evidence", "otherinfo"}],
"count", "solution", "otherinfo", "reference", "cweid", "wascid", "sourceid"}]}]}`, every value a string,
riskcode 0-3 (informational..high), confidence 0-4 (false positive..user confirmed).

Findings for the checks the builtin web baseline also makes (missing headers, cookie flags, version banners)
carry the same CWE and parameter (lower-case header name or cookie name), so both tools de-duplicate.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lib.core.findings import Asset, Finding, canonical_url
from lib.scanners.base import ScanContext, ScannerError, ScannerResult
from lib.scanners.process import run_tool

TOOL = "zap"
RAW_FILE = "zap.json"
ZAP_WORKDIR = Path("/zap/wrk")  # where zap-baseline.py writes its reports inside the ZAP image
RISK = {"3": "high", "2": "medium", "1": "low", "0": "info"}
CONFIDENCE = {"4": "high", "3": "high", "2": "medium", "1": "low"}  # "0" = false positive: dropped
MAX_INSTANCES = 50  # per alert; ZAP can list hundreds of URLs for one missing header

# ZAP plugin id -> the parameter the builtin baseline names the finding after, when ZAP leaves `param` empty.
PLUGIN_PARAM = {
    "10038": "content-security-policy",
    "10020": "x-frame-options",
    "10021": "x-content-type-options",
    "10035": "strict-transport-security",
    "10036": "server",
    "10037": "x-powered-by",
    "10063": "permissions-policy",
    "10061": "x-aspnet-version",
}
_TAG = re.compile(r"<[^>]+>")
_URL = re.compile(r"https?://[^\s<>\"']+")
_CVE = re.compile(r"\bCVE-\d{4}-\d{4,7}\b", re.I)


def _number(text: str) -> int | None:
    """A small non-negative ASCII integer, or None (ZAP writes "-1" for "no CWE")."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def html_text(value: str) -> str:
    """ZAP wraps descriptions in <p> paragraphs: plain text with one line per paragraph."""
    text = re.sub(r"</p>\s*<p>|<br\s*/?>", "\n", value)
    return html.unescape(_TAG.sub("", text)).strip()


def _s(d: dict[str, Any], key: str) -> str:
    v = d.get(key)
    if v is None:
        return ""
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise ScannerError(f"ZAP report field {key!r} should be text, found {type(v).__name__}")
    return str(v).strip()


def _items(d: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """A list of objects; ZAP's older reports give a single object where there is only one."""
    v = d.get(key)
    if v is None or v == "":
        return []
    if isinstance(v, dict):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        raise ScannerError(f"ZAP report field {key!r} should be a list of objects")
    return v


def parse_zap_json(text: str | bytes) -> tuple[str, list[Finding]]:
    """(ZAP version, findings) from a ZAP JSON report; ScannerError when it is not one."""
    try:
        doc = json.loads(text)
    except (ValueError, TypeError, RecursionError) as exc:
        raise ScannerError(f"ZAP JSON report is unreadable: {exc}") from exc
    if not isinstance(doc, dict) or "site" not in doc:
        raise ScannerError("not a ZAP JSON report (no 'site' list)")
    version = _s(doc, "@version")
    findings: dict[str, Finding] = {}
    for site in _items(doc, "site"):
        site_name = _s(site, "@name")
        for alert in _items(site, "alerts"):
            for f in _alert_findings(alert, site_name, version):
                findings.setdefault(f.rule_fp, f)
    return version, list(findings.values())


def _alert_findings(alert: dict[str, Any], site_name: str, version: str) -> list[Finding]:
    """One finding per instance (URL) of the alert, at most MAX_INSTANCES; none when ZAP marked it a false positive."""
    plugin = _s(alert, "pluginid")
    template = _alert_template(alert, plugin, version)
    if template is None:
        return []
    other = _s(alert, "otherinfo")
    instances = _items(alert, "instances") or [{"uri": site_name}]
    out = []
    for inst in instances[:MAX_INSTANCES]:
        asset = _instance_asset(inst, site_name, plugin)
        out.append(replace(template, asset=asset, evidence=_instance_evidence(inst, asset.url, other)))
    return out


def _alert_template(alert: dict[str, Any], plugin: str, version: str) -> Finding | None:
    """What every instance of the alert shares (all but asset and evidence); None for a false positive."""
    risk, confidence = _s(alert, "riskcode"), _s(alert, "confidence")
    if risk not in RISK:
        raise ScannerError(f"ZAP alert {plugin or '?'} has an unknown riskcode {risk!r}")
    if confidence == "0":  # marked as a false positive in ZAP
        return None
    if confidence not in CONFIDENCE:
        raise ScannerError(f"ZAP alert {plugin or '?'} has an unknown confidence {confidence!r}")
    title = _s(alert, "alert") or _s(alert, "name")
    if not title:
        raise ScannerError(f"ZAP alert {plugin or '?'} has no name")
    rule_id = f"zap-{_s(alert, 'alertRef') or plugin or 'unknown'}"
    cwe_number = _number(_s(alert, "cweid"))
    reference = _s(alert, "reference")
    other = _s(alert, "otherinfo")
    return Finding(
        tool=TOOL,
        tool_version=version,
        rule_id=rule_id,
        title=title,
        severity=RISK[risk],
        confidence=CONFIDENCE[confidence],
        cwe=(f"CWE-{cwe_number}",) if cwe_number else (),
        cve=tuple(sorted({c.upper() for c in _CVE.findall(" ".join((title, reference, other)))})),
        remediation=html_text(_s(alert, "solution"))[:2000],
        references=tuple(dict.fromkeys(_URL.findall(reference))),
    )


def _instance_asset(inst: dict[str, Any], site_name: str, plugin: str) -> Asset:
    """The place of one instance; refused here if its URL could not be fingerprinted later. Header checks name
    the lower-case header, as the builtin baseline does, so both tools de-duplicate."""
    uri = _s(inst, "uri") or site_name
    try:
        parts = urlsplit(uri)
        port = parts.port
        canonical_url(uri)  # what the fingerprints hash: must not fail later
    except ValueError as exc:
        raise ScannerError(f"ZAP alert {plugin or '?'} has a bad URL {uri[:100]!r}: {exc}") from exc
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ScannerError(f"ZAP alert {plugin or '?'} has a URL that is not http(s)://host/...: {uri[:100]!r}")
    scheme, host = parts.scheme.lower(), parts.hostname
    if port is None:
        port = 443 if scheme == "https" else 80
    param = (_s(inst, "param") or PLUGIN_PARAM.get(plugin, "")).strip()
    if plugin in PLUGIN_PARAM:
        param = param.lower()
    return Asset(host=host, port=port, protocol=scheme, url=uri, param=param)


def _instance_evidence(inst: dict[str, Any], uri: str, alert_other: str) -> str:
    """Request line, evidence, attack and ZAP's notes (the instance's, else the alert's), one per line."""
    method, evidence, inst_other = _s(inst, "method"), _s(inst, "evidence"), _s(inst, "otherinfo")
    lines = [f"{method} {uri}".strip()]
    if evidence:
        lines.append(f"Evidence: {evidence}")
    if _s(inst, "attack"):
        lines.append(f"Attack: {_s(inst, 'attack')}")
    if inst_other or alert_other:
        lines.append(html_text(inst_other or alert_other))
    return "\n".join(lines)[:2000]


def parse_zap_file(path: Path, ctx: ScanContext) -> ScannerResult:
    """A ZAP report made elsewhere (the cluster's ZAP pod): kept as raw/zap.json and parsed."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ScannerError(f"ZAP report {path} cannot be read: {exc}") from exc
    ctx.raw_dir.mkdir(parents=True, exist_ok=True)
    kept = ctx.raw_dir / RAW_FILE
    if Path(path).resolve() != kept.resolve():
        kept.write_bytes(data)
    version, findings = parse_zap_json(data)
    ctx.log(f"ZAP {version}: {len(findings)} finding(s)")
    return ScannerResult(TOOL, version, findings, [RAW_FILE], f"{len(findings)} finding(s) (ZAP {version})")


class ZapScanner:
    """Web step with ZAP's baseline scan, where zap-baseline.py is installed (the ZAP image)."""

    step = "web"
    tool = TOOL

    def available(self) -> bool:
        return shutil.which("zap-baseline.py") is not None

    def run(self, ctx: ScanContext) -> ScannerResult:
        parts = urlsplit(ctx.target)
        url = f"{parts.scheme}://{parts.netloc}{ctx.options.get('path') or parts.path or '/'}"
        minutes = max(1, min(5, int(ctx.options.get("depth", 1) or 1)))
        report = ZAP_WORKDIR / f"scanboard-{ctx.scan_id}.json"
        # exit codes: 0 clean, 1 FAIL alerts, 2 WARN alerts, 3 ZAP itself failed
        run_tool(
            ["zap-baseline.py", "-t", url, "-J", report.name, "-m", str(minutes), "-I"],
            timeout=ctx.timeout,
            raw_dir=ctx.raw_dir,
            name="ZAP baseline",
            stdout_file="zap.log",
            ok_codes=(0, 1, 2),
            log=ctx.log,
        )
        return parse_zap_file(report, ctx)

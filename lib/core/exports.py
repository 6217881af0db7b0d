"""Exports of a scan's findings.json for other tools: DefectDojo's "Generic Findings Import" (JSON) and CSV.

Both read the findings.json document (not live objects), so the worker can export any stored report. The
DefectDojo JSON keeps to the fields its importer accepts (it refuses any other key); its CSV has the columns
DefectDojo's generic CSV importer reads, one row per instance (DefectDojo folds rows of one finding back into one
with several endpoints). Every CSV cell that a spreadsheet would run as a formula is neutralised.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from lib.core.text import csv_cell

DOJO_SEVERITY = {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low", "info": "Info"}
CSV_COLUMNS = (
    "Date",
    "Title",
    "CweId",
    "Url",
    "Severity",
    "Description",
    "Mitigation",
    "References",
    "Active",
    "Verified",
    "FalsePositive",
    "Vulnerability Id",
)


def neutralise(cell: str) -> str:
    """A cell starting with = + - @ tab or CR is prefixed with ' so Excel/LibreOffice show it as text."""
    return str(csv_cell(cell))


def _cwe_number(cwes: Iterable[str]) -> int | None:
    for c in cwes:
        digits = c.upper().removeprefix("CWE-")
        if digits.isdigit():
            return int(digits)
    return None


def _places(f: dict[str, Any]) -> list[dict[str, Any]]:
    return list(f.get("instances") or []) or [f.get("asset") or {}]


def _endpoint(a: dict[str, Any]) -> dict[str, Any]:
    """A DefectDojo Endpoint's fields (protocol, host, port, path, query) from one instance."""
    if a.get("url"):
        parts = urlsplit(a["url"])
        out: dict[str, Any] = {"protocol": parts.scheme, "host": parts.hostname or a.get("host", "")}
        if parts.port:
            out["port"] = parts.port
        if parts.path:
            out["path"] = parts.path.lstrip("/")
        if parts.query:
            out["query"] = parts.query
        return out
    out = {"host": a.get("host") or a.get("ip", "")}
    if a.get("port"):
        out["port"] = a["port"]
    return out


def _description(f: dict[str, Any], list_places: bool = True) -> str:
    """Evidence, where it was seen and by which tool. The CSV leaves the list out (list_places=False): each of
    its rows has its own Url, and listing all N places in each of N rows made the file grow with N squared."""
    lines = [f.get("evidence") or f.get("title", "")]
    places = _places(f)
    if len(places) > 1:
        lines.append(f"Seen at {len(places)} places{':' if list_places else ' (one row each).'}")
        if list_places:
            lines += [
                f"- {p.get('url') or p.get('host', '')}{' [' + p['param'] + ']' if p.get('param') else ''}"
                for p in places
            ]
    lines.append(f"Reported by: {', '.join(f.get('tools') or [f.get('tool', '')])}")
    return "\n".join(x for x in lines if x)


def defectdojo_json(doc: dict[str, Any]) -> dict[str, Any]:
    """DefectDojo "Generic Findings Import" JSON: one finding per scanboard finding (rule, host)."""
    findings = []
    for f in doc.get("findings", []):
        date = (f.get("last_seen") or doc.get("scan", {}).get("requested_at") or "")[:10]
        item: dict[str, Any] = {
            "title": f["title"],
            "severity": DOJO_SEVERITY[f["severity"]],
            "description": _description(f),
            "mitigation": f.get("remediation", ""),
            "references": "\n".join(f.get("references") or []),
            "active": True,
            "verified": False,
            "dynamic_finding": True,
            "static_finding": False,
            "unique_id_from_tool": f.get("issue_fp", ""),
            "vuln_id_from_tool": f.get("rule", f.get("rule_id", "")),
            "nb_occurences": len(_places(f)),
            "endpoints": [_endpoint(a) for a in _places(f)],
        }
        if date:
            item["date"] = date
        cwe = _cwe_number(f.get("cwe") or [])
        if cwe is not None:
            item["cwe"] = cwe
        if f.get("cve"):
            item["vulnerability_ids"] = [{"vulnerability_id": c} for c in f["cve"]]
        findings.append(item)
    scan = doc.get("scan", {})
    return {
        "name": "scanboard",
        "type": "scanboard",
        "description": f"scanboard scan {scan.get('scan_id', '')} of {scan.get('target', '')}",
        "dynamic_tool": True,
        "findings": findings,
    }


def _quoted(cell: str) -> str:
    """One cell as csv.writer writes it: quoting is per cell, so a finding's cells are quoted once, not once per
    instance row (10,000 rows of up to 500-line descriptions were most of the report step's export time)."""
    if not cell:
        return ""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([cell])
    return out.getvalue()[:-2]


def _cells(*cells: str) -> str:
    return ",".join(_quoted(neutralise(c)) for c in cells)


def findings_csv(doc: dict[str, Any]) -> str:
    """DefectDojo's generic CSV: one row per instance of each finding, every cell neutralised. The rows of one
    finding share one description, so DefectDojo's importer folds them back into one finding with N endpoints."""
    lines = [_cells(*CSV_COLUMNS)]
    for f in doc.get("findings", []):
        date = (f.get("last_seen") or doc.get("scan", {}).get("requested_at") or "")[:10]
        head = _cells(date, f["title"], str(_cwe_number(f.get("cwe") or []) or 0))
        tail = _cells(
            DOJO_SEVERITY[f["severity"]],
            _description(f, list_places=False),
            f.get("remediation", ""),
            " ".join(f.get("references") or []),
            "TRUE",
            "FALSE",
            "FALSE",
            ",".join(f.get("cve") or []),
        )
        for a in _places(f):
            url = a.get("url") or (f"{a.get('host') or a.get('ip', '')}:{a['port']}" if a.get("port") else "")
            lines.append(f"{head},{_cells(url)},{tail}")
    return "\r\n".join(lines) + "\r\n"

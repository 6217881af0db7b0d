"""The Reports page's model: stored report files grouped by scan, newest scan first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lib.adapters.storage import StoredReport
from lib.core.media_types import media_type

ORDER = ("report.pdf", "findings.json", "report.html", "defectdojo.json", "findings.csv")


@dataclass(frozen=True)
class ReportFile:
    name: str
    size: int
    mime: str


@dataclass(frozen=True)
class ReportGroup:
    scan_id: str
    modified: datetime
    files: list[ReportFile]


def report_groups(reports: list[StoredReport], only_scan: str = "") -> list[ReportGroup]:
    by_scan: dict[str, list[StoredReport]] = {}
    for r in reports:
        if not only_scan or r.scan_id == only_scan:
            by_scan.setdefault(r.scan_id, []).append(r)
    groups = []
    for scan_id, files in by_scan.items():
        files.sort(key=lambda f: ORDER.index(f.name) if f.name in ORDER else len(ORDER))
        groups.append(
            ReportGroup(
                scan_id,
                max(f.modified for f in files),
                [ReportFile(f.name, f.size, media_type(f.name)) for f in files],
            )
        )
    return sorted(groups, key=lambda g: g.modified, reverse=True)

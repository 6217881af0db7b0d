"""Where published reports live: a local folder (embedded default) or an S3 bucket (cluster mode).

Both keep one prefix per scan, `reports/<scan-id>/` holding report.pdf, report.html, findings.json and raw/.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

PREFIX = "reports"
REPORT_FILES = ("report.pdf", "report.html", "findings.json")


@dataclass(frozen=True)
class StoredReport:
    scan_id: str
    name: str  # file name within the scan's prefix
    size: int
    modified: datetime


class ReportStore(Protocol):
    def publish(self, scan_id: str, folder: Path) -> str:
        """Copy a finished scan folder's report files (and raw/) to the store; returns the scan's prefix."""

    def list_reports(self) -> list[StoredReport]:
        """Every stored report file, newest first."""

    def read(self, scan_id: str, name: str) -> bytes:
        """One stored file's bytes (FileNotFoundError when absent)."""

    def link(self, scan_id: str, name: str) -> str:
        """A URL a person can open to get the file (a presigned URL on S3, the Reports page locally)."""


def scan_prefix(scan_id: str) -> str:
    return f"{PREFIX}/{scan_id}"


def published_files(folder: Path) -> list[Path]:
    """The files of a scan folder that get published: the report files and everything under raw/."""
    files = [folder / n for n in REPORT_FILES if (folder / n).is_file()]
    raw = folder / "raw"
    if raw.is_dir():
        files += sorted(p for p in raw.rglob("*") if p.is_file())
    return files


class LocalReportStore:
    def __init__(self, root: Path, public_base_url: str) -> None:
        self.root = root
        self.public_base_url = public_base_url.rstrip("/")

    def _dir(self, scan_id: str) -> Path:
        if not scan_id.isalnum():
            raise ValueError("invalid scan id")
        return self.root / scan_id

    def publish(self, scan_id: str, folder: Path) -> str:
        dest = self._dir(scan_id)
        for f in published_files(folder):
            target = dest / f.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, target)
        return scan_prefix(scan_id)

    def list_reports(self) -> list[StoredReport]:
        if not self.root.is_dir():
            return []
        out = []
        for d in self.root.iterdir():
            for name in REPORT_FILES:
                p = d / name
                if p.is_file():
                    st = p.stat()
                    out.append(StoredReport(d.name, name, st.st_size,
                                            datetime.fromtimestamp(st.st_mtime, timezone.utc)))
        return sorted(out, key=lambda r: (r.modified, r.scan_id, r.name), reverse=True)

    def read(self, scan_id: str, name: str) -> bytes:
        path = (self._dir(scan_id) / name).resolve()
        if self.root.resolve() not in path.parents:
            raise FileNotFoundError(name)
        return path.read_bytes()

    def link(self, scan_id: str, name: str) -> str:
        return f"{self.public_base_url}/reports?scan={scan_id}"


def read_findings(store: ReportStore, scan_id: str) -> dict[str, Any] | None:
    """The published findings.json of a scan, or None when there is none."""
    try:
        return json.loads(store.read(scan_id, "findings.json"))
    except (FileNotFoundError, KeyError, ValueError):
        return None

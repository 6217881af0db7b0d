"""Where published reports live: a local folder (embedded default) or an S3 bucket (cluster mode).

Both keep one prefix per scan, `reports/<scan-id>/` holding report.pdf, report.html, findings.json and raw/.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from lib.core.media_types import media_type

PREFIX = "reports"
REPORT_FILES = ("report.pdf", "report.html", "findings.json", "defectdojo.json", "findings.csv")


@dataclass(frozen=True)
class StoredReport:
    scan_id: str
    name: str  # file name within the scan's prefix
    size: int
    modified: datetime


class ReportStore(Protocol):
    direct_links: bool  # True: link() is a URL to the file itself (presigned), False: a page of the portal

    def publish(self, scan_id: str, folder: Path) -> str:
        """Copy a finished scan folder's report files (and raw/) to the store; returns the scan's prefix."""

    def list_reports(self) -> list[StoredReport]:
        """Every stored report file, newest first."""

    def read(self, scan_id: str, name: str) -> bytes:
        """One stored file's bytes (FileNotFoundError when absent)."""

    def link(self, scan_id: str, name: str) -> str:
        """A URL a person can open to get the file (a presigned URL on S3, the Reports page locally)."""

    def set_latest(self, host: str, scan_id: str) -> None:
        """Remember the newest published scan of a host (the next scan of it is diffed against it)."""

    def latest(self, host: str) -> str:
        """The newest published scan of a host, or ""."""


def scan_prefix(scan_id: str) -> str:
    return f"{PREFIX}/{scan_id}"


def portal_reports_url(public_base_url: str, scan_id: str) -> str:
    """The portal's Reports page for one scan."""
    return f"{public_base_url.rstrip('/')}/reports?scan={scan_id}"


def host_key(host: str) -> str:
    """The object name remembering a host's newest scan (host names are safe file names once lower-cased)."""
    safe = "".join(c if c.isalnum() or c in ".-" else "_" for c in host.lower().strip("."))
    return f"hosts/{safe or '_'}.json"


def published_files(folder: Path) -> list[Path]:
    """The files of a scan folder that get published: the report files and everything under raw/."""
    files = [folder / n for n in REPORT_FILES if (folder / n).is_file()]
    raw = folder / "raw"
    if raw.is_dir():
        files += sorted(p for p in raw.rglob("*") if p.is_file())
    return files


class LocalReportStore:
    direct_links = False

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
            if d.name == "hosts":
                continue
            for name in REPORT_FILES:
                p = d / name
                if p.is_file():
                    st = p.stat()
                    out.append(StoredReport(d.name, name, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC)))
        return sorted(out, key=lambda r: (r.modified, r.scan_id, r.name), reverse=True)

    def read(self, scan_id: str, name: str) -> bytes:
        path = (self._dir(scan_id) / name).resolve()
        if self.root.resolve() not in path.parents:
            raise FileNotFoundError(name)
        return path.read_bytes()

    def link(self, scan_id: str, name: str) -> str:
        return portal_reports_url(self.public_base_url, scan_id)

    def set_latest(self, host: str, scan_id: str) -> None:
        path = self.root / host_key(host)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"scan_id": scan_id}))

    def latest(self, host: str) -> str:
        try:
            return json.loads((self.root / host_key(host)).read_text())["scan_id"]
        except (FileNotFoundError, KeyError, ValueError):
            return ""


def read_findings(store: ReportStore, scan_id: str) -> dict[str, Any] | None:
    """The published findings.json of a scan, or None when there is none."""
    try:
        return json.loads(store.read(scan_id, "findings.json"))
    except (FileNotFoundError, KeyError, ValueError):
        return None


class S3ReportStore:
    """Reports in an S3 bucket under `reports/<scan-id>/`; links are presigned GET URLs. Credentials come from the
    default chain (IRSA in EKS), never from configuration."""

    direct_links = True

    def __init__(
        self, bucket: str, region: str, endpoint_url: str = "", presign_seconds: int = 7 * 24 * 3600, client: Any = None
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.presign_seconds = presign_seconds
        self.client = client or boto3.client(
            "s3",
            region_name=region,
            endpoint_url=endpoint_url or None,
            config=Config(
                signature_version="s3v4",
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )

    def publish(self, scan_id: str, folder: Path) -> str:
        prefix = scan_prefix(scan_id)
        for f in published_files(folder):
            key = f"{prefix}/{f.relative_to(folder).as_posix()}"
            self.client.upload_file(str(f), self.bucket, key, ExtraArgs={"ContentType": media_type(f.name)})
        return prefix

    def list_reports(self) -> list[StoredReport]:
        out = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=f"{PREFIX}/"):
            for obj in page.get("Contents", []):
                parts = obj["Key"].split("/")
                if len(parts) == 3 and parts[2] in REPORT_FILES:
                    out.append(StoredReport(parts[1], parts[2], obj["Size"], obj["LastModified"]))
        return sorted(out, key=lambda r: (r.modified, r.scan_id, r.name), reverse=True)

    def read(self, scan_id: str, name: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=f"{scan_prefix(scan_id)}/{name}")["Body"].read()
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(name) from None

    def link(self, scan_id: str, name: str) -> str:
        return self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": f"{scan_prefix(scan_id)}/{name}"},
            ExpiresIn=self.presign_seconds,
        )

    def set_latest(self, host: str, scan_id: str) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=host_key(host),
            Body=json.dumps({"scan_id": scan_id}),
            ContentType="application/json",
        )

    def latest(self, host: str) -> str:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=host_key(host))["Body"].read()
            return json.loads(body)["scan_id"]
        except (self.client.exceptions.NoSuchKey, KeyError, ValueError):
            return ""

"""What the progress page may show a viewer: their scans (every scan for managers and the local user), read once
here so the page holds no authorisation rule and no query."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.models import Scan
from lib.adapters.repository import finding_rows, get_scan, list_scans
from lib.core.roles import Viewer
from lib.insights.progress import findings_table


def recent_for(sessions: sessionmaker[Session], viewer: Viewer, limit: int = 50) -> list[Scan]:
    """The newest scans this viewer may open, newest first."""
    return list_scans(sessions, limit=limit, email="" if viewer.sees_all_scans() else viewer.email)


def progress_for(sessions: sessionmaker[Session], viewer: Viewer, scan_id: str) -> Scan | None:
    """The scan, or None when there is no such scan or this viewer may not see it (the page says the same)."""
    scan = get_scan(sessions, scan_id)
    return scan if scan is not None and viewer.may_see(scan.requester_email) else None


def findings_for(sessions: sessionmaker[Session], scan: Scan) -> list[dict]:
    """The findings table of a scan the viewer already may see (from progress_for)."""
    return findings_table(finding_rows(sessions, scan.id))

"""The one place that decides what a viewer may see: scans, their reports and progress, and outbox messages.

Every page and download asks here. It fails closed: a viewer who is neither local nor a manager sees only
what belongs to their own email, and a viewer without an email sees nothing.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.mail import Mailer
from lib.adapters.models import Message, Scan
from lib.adapters.repository import get_scan, list_scans
from lib.core.roles import Viewer


class OfScan(Protocol):
    @property
    def scan_id(self) -> str: ...


T = TypeVar("T", bound=OfScan)


def sees_everything(viewer: Viewer) -> bool:
    return viewer.sees_all_scans()


def owner_filter(viewer: Viewer) -> str | None:
    """None: every requester; otherwise the one requester email to filter on ("" matches no scan)."""
    return viewer.owner_filter()


def can_see(viewer: Viewer, scan: Scan | None) -> bool:
    return scan is not None and viewer.may_see(scan.requester_email)


def visible_scans(sessions: sessionmaker[Session], viewer: Viewer, limit: int = 50) -> list[Scan]:
    """The newest scans this viewer may see."""
    return list_scans(sessions, limit=limit, email=owner_filter(viewer))


def visible_scan(sessions: sessionmaker[Session], viewer: Viewer, scan_id: str) -> Scan | None:
    """The scan, or None when it does not exist or is not this viewer's to see (the same answer for both)."""
    scan = get_scan(sessions, scan_id) if scan_id else None
    return scan if can_see(viewer, scan) else None


def visible_reports(sessions: sessionmaker[Session], viewer: Viewer, groups: list[T]) -> list[T]:
    """The stored reports (anything with a scan_id) whose scan this viewer may see; a report of an unknown
    scan: only for those who see everything."""
    if sees_everything(viewer):
        return groups
    mine = {s.id for s in list_scans(sessions, limit=100_000, email=owner_filter(viewer))}
    return [g for g in groups if g.scan_id in mine]


def visible_messages(mailer: Mailer, viewer: Viewer, limit: int = 200) -> list[Message]:
    """Outbox messages addressed to this viewer (all of them for the local user and managers)."""
    if sees_everything(viewer):
        return mailer.messages(limit=limit)
    return mailer.messages(limit=limit, to=viewer.email.strip())

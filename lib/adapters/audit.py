"""The audit log: who requested, confirmed, viewed and downloaded which scan, and who signed in. Rows are only
ever added (the database refuses UPDATE and DELETE on the table); managers read and export them."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.models import AuditEvent, utcnow
from lib.core.text import csv_cell

ACTIONS = ("signed_in", "sign_in_refused", "requested", "confirmed", "viewed", "downloaded")
COLUMNS = ("at", "actor", "action", "scan_id", "detail")


def add_event(s: Session, actor: str, action: str, scan_id: str = "", detail: str = "") -> None:
    """Add one event inside the caller's transaction (so it is written with what it records, or not at all)."""
    s.add(AuditEvent(at=utcnow(), actor=(actor or "local")[:320], action=action, scan_id=scan_id, detail=detail[:500]))


def record(sessions: sessionmaker[Session], actor: str, action: str, scan_id: str = "", detail: str = "") -> None:
    with sessions.begin() as s:
        add_event(s, actor, action, scan_id, detail)


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""  # part of the email, case-insensitive
    action: str = ""
    scan_id: str = ""
    start: date | None = None
    end: date | None = None  # inclusive

    def where(self) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = []
        if self.actor.strip():
            conds.append(AuditEvent.actor.ilike(f"%{self.actor.strip()}%"))
        if self.action:
            conds.append(AuditEvent.action == self.action)
        if self.scan_id.strip():
            conds.append(AuditEvent.scan_id == self.scan_id.strip())
        if self.start:
            conds.append(AuditEvent.at >= datetime.combine(self.start, time(), UTC))
        if self.end:
            conds.append(AuditEvent.at < datetime.combine(self.end + timedelta(days=1), time(), UTC))
        return conds


def events(sessions: sessionmaker[Session], filters: AuditFilters, limit: int | None = 1000) -> list[dict]:
    """Matching events, newest first, as rows for a table."""
    q = select(AuditEvent).where(*filters.where()).order_by(AuditEvent.id.desc())
    if limit is not None:
        q = q.limit(limit)
    with sessions() as s:
        return [{c: getattr(e, c) for c in COLUMNS} for e in s.scalars(q)]


def export_csv(sessions: sessionmaker[Session], filters: AuditFilters) -> bytes:
    """Every matching event as CSV (UTC ISO times), formula-like cells neutralised."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(COLUMNS)
    for row in events(sessions, filters, limit=None):
        at = row["at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        w.writerow([at, *(csv_cell(row[c]) for c in COLUMNS[1:])])
    return out.getvalue().encode()

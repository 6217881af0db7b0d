"""Triage from the progress page: check the mark (role, reason, expiry), record it, list what a scan can mark."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.models import Scan
from lib.adapters.repository import finding_rows
from lib.adapters.triage_store import marks_for_host, record_triage
from lib.core.findings import Finding
from lib.core.roles import Viewer
from lib.core.triage import TriageMark, check_mark, key


def mark_finding(
    sessions: sessionmaker[Session],
    viewer: Viewer,
    host: str,
    rule: str,
    state: str,
    reason: str,
    expires_on: date | None = None,
    scan_id: str = "",
    now: datetime | None = None,
) -> TriageMark:
    """Record a triage change for (host, rule); TriageError with a reason for the form when it is refused."""
    now = now or datetime.now(UTC)
    expires_at = datetime.combine(expires_on, time(0, 0), tzinfo=UTC) if expires_on else None
    reason = check_mark(state, reason, expires_at, now, viewer.roles)
    by = viewer.email or "local user"
    return record_triage(sessions, host, rule, state, reason, by, expires_at, scan_id, now)


def triage_choices(sessions: sessionmaker[Session], scan: Scan) -> list[dict[str, str]]:
    """One entry per finding of the scan (not the fixed ones): its rule, headline and current mark, if any."""
    marks = marks_for_host(sessions, scan.host)
    out = []
    for r in finding_rows(sessions, scan.id):
        if r.diff_state == "fixed":
            continue
        f = Finding.from_dict(r.data)
        mark = marks.get(key(f.asset.host_key(), f.rule))
        out.append(
            {"host": f.asset.host_key(), "rule": f.rule, "title": f.title, "mark": mark.describe() if mark else ""}
        )
    return out

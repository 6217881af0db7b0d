"""Triage marks in the database: record a change, read the marks in force for a host, read the record."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.models import TriageEvent, utcnow
from lib.core.triage import TriageMark, key


def _aware(t: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes for timezone columns: they were written in UTC."""
    return t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t


def _mark(e: TriageEvent) -> TriageMark:
    at = _aware(e.at)
    assert at is not None
    return TriageMark(e.host, e.rule, e.state, e.reason, e.by, at, _aware(e.expires_at))


def record_triage(
    sessions: sessionmaker[Session],
    host: str,
    rule: str,
    state: str,
    reason: str,
    by: str,
    expires_at: datetime | None = None,
    scan_id: str = "",
    at: datetime | None = None,
) -> TriageMark:
    """Append one change (already checked by lib.core.triage.check_mark) and return it as the mark in force."""
    host, rule = key(host, rule)
    event = TriageEvent(
        host=host,
        rule=rule,
        state=state,
        reason=reason,
        by=by,
        expires_at=expires_at,
        at=at or utcnow(),
        scan_id=scan_id,
    )
    with sessions.begin() as s:
        s.add(event)
    return _mark(event)


def marks_for_host(sessions: sessionmaker[Session], host: str) -> dict[tuple[str, str], TriageMark]:
    """The newest mark per rule on this host (one query), keyed like lib.core.triage.split_triaged looks up."""
    host = key(host, "")[0]
    with sessions() as s:
        newest = (
            select(TriageEvent.rule, func.max(TriageEvent.id).label("id"))
            .where(TriageEvent.host == host)
            .group_by(TriageEvent.rule)
            .subquery()
        )
        rows = s.scalars(select(TriageEvent).join(newest, TriageEvent.id == newest.c.id))
        return {key(e.host, e.rule): _mark(e) for e in rows}


def triage_history(sessions: sessionmaker[Session], host: str, rule: str) -> list[TriageMark]:
    """Every change of one finding's triage, oldest first: who, when, what and why."""
    host, rule = key(host, rule)
    with sessions() as s:
        q = select(TriageEvent).where(TriageEvent.host == host, TriageEvent.rule == rule).order_by(TriageEvent.id)
        return [_mark(e) for e in s.scalars(q)]

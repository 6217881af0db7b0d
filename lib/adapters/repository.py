"""Reads and writes of scan records that more than one part of the app needs (intake, engines, pages)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.models import (
    AWAITING_OWNERSHIP,
    FINAL_STATUSES,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    FindingRecord,
    Scan,
    Step,
    utcnow,
)
from lib.core.findings import Finding
from lib.core.pipeline import plan


def get_scan(sessions: sessionmaker[Session], scan_id: str) -> Scan | None:
    with sessions() as s:
        return s.get(Scan, scan_id)


def get_steps(sessions: sessionmaker[Session], scan_id: str) -> list[Step]:
    with sessions() as s:
        return list(s.scalars(select(Step).where(Step.scan_id == scan_id).order_by(Step.id)))


def ensure_steps(s: Session, scan: Scan) -> None:
    """Create the scan's step rows once: requested scanners and later steps pending, the others skipped."""
    existing = set(s.scalars(select(Step.name).where(Step.scan_id == scan.id)))
    for p in plan(scan.scanners):
        if p.spec.name not in existing:
            s.add(
                Step(
                    scan_id=scan.id,
                    name=p.spec.name,
                    state="pending" if p.enabled else "skipped",
                    message="" if p.enabled else "not requested",
                )
            )


def update_step(sessions: sessionmaker[Session], scan_id: str, name: str, **values: Any) -> None:
    with sessions.begin() as s:
        s.execute(update(Step).where(Step.scan_id == scan_id, Step.name == name).values(**values))


def append_step_log(
    sessions: sessionmaker[Session], scan_id: str, name: str, line: str, keep_chars: int = 20_000
) -> None:
    with sessions.begin() as s:
        step = s.scalar(select(Step).where(Step.scan_id == scan_id, Step.name == name))
        if step is not None:
            step.log = ((step.log or "") + line.rstrip() + "\n")[-keep_chars:]


def previous_scan_findings(sessions: sessionmaker[Session], scan: Scan) -> tuple[str, list[Finding], frozenset[str]]:
    """The newest earlier finished scan of the same host that has findings recorded, its open findings and the
    scanners that succeeded in it (only those are compared)."""
    with sessions() as s:
        prev_id = s.scalar(
            select(Scan.id)
            .where(
                Scan.host == scan.host,
                Scan.id != scan.id,
                Scan.status.in_(FINAL_STATUSES),
                Scan.report_key != "",
                Scan.finished_at.is_not(None),
                Scan.created_at <= scan.created_at,
            )
            .order_by(Scan.finished_at.desc())
            .limit(1)
        )
        if prev_id is None:
            return "", [], frozenset()
        rows = s.scalars(
            select(FindingRecord).where(
                FindingRecord.scan_id == prev_id, FindingRecord.diff_state.not_in(("fixed", "triaged"))
            )
        )
        ok = s.scalars(select(Step.name).where(Step.scan_id == prev_id, Step.state == SUCCEEDED))
        return prev_id, [Finding.from_dict(r.data) for r in rows], frozenset(ok)


def save_findings(sessions: sessionmaker[Session], scan_id: str, doc: dict[str, Any]) -> None:
    """Store a scan's findings.json (open findings with their diff state, the fixed and the triaged ones) and its
    counts (open findings only)."""
    with sessions.begin() as s:
        scan = s.get_one(Scan, scan_id)
        s.execute(delete(FindingRecord).where(FindingRecord.scan_id == scan_id))
        groups = (("", doc.get("findings", [])), ("fixed", doc.get("fixed", [])), ("triaged", doc.get("triaged", [])))
        for state_key, rows in groups:
            for d in rows:
                f = Finding.from_dict(d)
                s.add(
                    FindingRecord(
                        scan_id=scan_id,
                        host=scan.host,
                        tool=f.tool,
                        rule_id=f.rule_id,
                        title=f.title,
                        severity=f.severity,
                        rule_fp=f.rule_fp,
                        issue_fp=f.issue_fp,
                        diff_state=state_key or d.get("diff_state", "new"),
                        data=f.to_dict(),
                    )
                )
        scan.severity_counts = doc.get("counts", {})
        scan.diff_counts = doc.get("diff", {}) if doc.get("previous_scan") else {}


def finding_rows(sessions: sessionmaker[Session], scan_id: str) -> list[FindingRecord]:
    with sessions() as s:
        return list(s.scalars(select(FindingRecord).where(FindingRecord.scan_id == scan_id).order_by(FindingRecord.id)))


def finish_scan(
    sessions: sessionmaker[Session], scan_id: str, status: str, reason: str = "", report_key: str | None = None
) -> None:
    values: dict[str, Any] = {"status": status, "status_reason": reason, "finished_at": utcnow()}
    if report_key is not None:
        values["report_key"] = report_key
    with sessions.begin() as s:
        s.execute(update(Scan).where(Scan.id == scan_id).values(**values))


def list_scans(sessions: sessionmaker[Session], limit: int = 500, email: str | None = None) -> list[Scan]:
    """Newest first; all scans only when `email` is None. Any string, the empty one included, is a filter
    (case-insensitive): "no identity" selects nothing, never everything."""
    with sessions() as s:
        q = select(Scan).order_by(Scan.created_at.desc()).limit(limit)
        if email is not None:
            q = q.where(func.lower(Scan.requester_email) == email.strip().lower())
        return list(s.scalars(q))


@dataclass(frozen=True)
class QueueFacts:
    """Where one scan stands among the others, counted in one read."""

    status: str
    status_reason: str
    ahead: int  # queued scans that the dispatcher takes before this one (confirmed earlier)
    queued: int  # queued scans in all
    running: int  # scans running now, of anyone
    mine_active: int  # the requester's other scans running, queued or awaiting the ownership proof


def queue_facts(sessions: sessionmaker[Session], scan_id: str) -> QueueFacts | None:
    """The counts behind a waiting scan's place in the queue; None for an unknown scan. The order is the
    dispatchers' (oldest confirmation first)."""
    count = select(func.count()).select_from(Scan)
    with sessions() as s:
        scan = s.get(Scan, scan_id)
        if scan is None:
            return None
        ahead = 0
        if scan.status == QUEUED and scan.confirmed_at is not None:
            ahead = s.scalar(count.where(Scan.status == QUEUED, Scan.confirmed_at < scan.confirmed_at)) or 0
        return QueueFacts(
            status=scan.status,
            status_reason=scan.status_reason,
            ahead=ahead,
            queued=s.scalar(count.where(Scan.status == QUEUED)) or 0,
            running=s.scalar(count.where(Scan.status == RUNNING)) or 0,
            mine_active=s.scalar(
                count.where(
                    Scan.requester_email == scan.requester_email,
                    Scan.id != scan.id,
                    Scan.status.in_((QUEUED, RUNNING, AWAITING_OWNERSHIP)),
                )
            )
            or 0,
        )


def count_scans(sessions: sessionmaker[Session], status: str) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(Scan).where(Scan.status == status)) or 0

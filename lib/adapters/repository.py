"""Reads and writes of scan records that more than one part of the app needs (intake, engines, pages)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.models import FINAL_STATUSES, FindingRecord, Scan, Step, utcnow
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


def previous_scan_findings(sessions: sessionmaker[Session], scan: Scan) -> tuple[str, list[Finding]]:
    """The newest earlier finished scan of the same host that has findings recorded, and its open findings."""
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
            return "", []
        rows = s.scalars(
            select(FindingRecord).where(FindingRecord.scan_id == prev_id, FindingRecord.diff_state != "fixed")
        )
        return prev_id, [Finding.from_dict(r.data) for r in rows]


def save_findings(sessions: sessionmaker[Session], scan_id: str, doc: dict[str, Any]) -> None:
    """Store a scan's findings.json (findings with their diff state, and the fixed ones) and its counts."""
    with sessions.begin() as s:
        scan = s.get_one(Scan, scan_id)
        s.execute(delete(FindingRecord).where(FindingRecord.scan_id == scan_id))
        for state_key, rows in (("", doc.get("findings", [])), ("fixed", doc.get("fixed", []))):
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


def list_scans(sessions: sessionmaker[Session], limit: int = 500, email: str = "") -> list[Scan]:
    with sessions() as s:
        q = select(Scan).order_by(Scan.created_at.desc()).limit(limit)
        if email:
            q = q.where(Scan.requester_email == email)
        return list(s.scalars(q))


def count_scans(sessions: sessionmaker[Session], status: str) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(Scan).where(Scan.status == status)) or 0

"""Read side of scans for the API: one scan's status with its steps, its findings and diff, its report, and
a filtered, paginated list. Visibility is the same rule as the pages (lib.core.roles.Viewer.may_see)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.models import FINAL_STATUSES, SCAN_STATUSES, FindingRecord, Scan
from lib.core.dag import DagView
from lib.core.findings import Finding
from lib.core.pipeline import STEP_NAMES
from lib.core.roles import Viewer
from lib.core.ttl_cache import TtlCache
from lib.services.context import Services

MAX_PAGE = 200


SCAN_ID = re.compile(r"[0-9a-f]{12}")  # what intake.new_scan_id makes
SHOWN_ID_CHARS = 40
RESULTS = {"findings": "its findings exist", "diff": "its diff exists", "report": "its report exists"}


class NotVisible(LookupError):
    """No scan with this id that the caller may see (the same answer for both, so ids cannot be probed)."""


class NotFinished(LookupError):
    """The scan's results are asked for before it has ended; the message names its status now."""


def _not_visible(scan_id: str) -> NotVisible:
    """An id that cannot be one is said so, echoed short: a client's bug should not come back 5000 characters long."""
    if not SCAN_ID.fullmatch(scan_id):
        shown = scan_id if len(scan_id) <= SHOWN_ID_CHARS else scan_id[:SHOWN_ID_CHARS] + "…"
        return NotVisible(f"There is no scan with id {shown!r}: scan ids are 12 characters 0-9 and a-f.")
    return NotVisible(f"There is no scan with id {scan_id!r} that this token may read.")


def require_finished(scan: Scan, part: str) -> None:
    """`part` (findings, diff, report) exists once the scan has ended: NotFinished otherwise."""
    if scan.status not in FINAL_STATUSES:
        status = scan.status.replace("_", " ")
        raise NotFinished(f"Scan {scan.id} is {status}: {RESULTS[part]} once it has finished.")


@dataclass(frozen=True)
class Page:
    items: list[Scan]
    total: int
    limit: int
    offset: int


def visible_scan(sessions: sessionmaker[Session], viewer: Viewer, scan_id: str) -> Scan:
    scan = None
    if SCAN_ID.fullmatch(scan_id):  # anything else was never stored: no query
        with sessions() as s:
            scan = s.get(Scan, scan_id)
    if scan is None or not viewer.may_see(scan.requester_email):
        raise _not_visible(scan_id)
    return scan


def scan_summary(scan: Scan) -> dict[str, Any]:
    return {
        "id": scan.id,
        "target": scan.target,
        "status": scan.status,
        "status_reason": scan.status_reason,
        "requested_by": scan.requester_email,
        "requested_via": scan.requested_via,
        "scanners": scan.scanners,
        "created_at": scan.created_at,
        "confirmed_at": scan.confirmed_at,
        "started_at": scan.started_at,
        "finished_at": scan.finished_at,
        "counts": scan.severity_counts or {},
        "diff_counts": scan.diff_counts or {},
        "has_report": bool(scan.report_key),
    }


def steps_of(view: DagView) -> list[dict[str, Any]]:
    return [
        {
            "name": n.id if n.id in STEP_NAMES else n.label,  # embedded: the step name; Argo: its displayName
            "label": n.label,
            "state": n.state,
            "tool": n.tool,
            "started_at": n.started_at,
            "finished_at": n.finished_at,
            "duration_s": round(n.duration_s, 3) if n.duration_s is not None else None,
            "message": n.message,
        }
        for n in view.nodes
        if n.kind == "step"
    ]


def scan_detail(svc: Services, scan: Scan) -> dict[str, Any]:
    """Status, steps with their states and times (from the engine: step rows or the Workflow), counts, of a
    scan the caller may see (visible_scan)."""
    try:
        view = svc.engine.progress(scan.id)
        steps, note = steps_of(view), view.error
    except KeyError:
        steps, note = [], ""
    return {**scan_summary(scan), "steps": steps, "progress_note": note}


class StatusCache:
    """One process's recent scan details for a second: a pipeline polls its scan every few seconds, and many
    pollers of one scan then cost one read of the scan and its steps (from the database or the Workflow) per
    second. Visibility is checked on every call; misses are not cached."""

    def __init__(self, ttl_seconds: float = 1.0, max_entries: int = 10_000) -> None:
        self._details = TtlCache[dict[str, Any]](ttl_seconds, max_entries=max_entries)

    def detail(self, svc: Services, viewer: Viewer, scan_id: str) -> dict[str, Any]:
        def load() -> dict[str, Any]:
            scan = visible_scan(svc.sessions, viewer, scan_id)
            return {**scan_detail(svc, scan), "_scan": scan}

        hit = self._details.get(scan_id, load)
        if not viewer.may_see(hit["requested_by"]):
            raise _not_visible(scan_id)
        return hit


def list_page(
    sessions: sessionmaker[Session],
    viewer: Viewer,
    target: str = "",
    status: str = "",
    limit: int = 50,
    offset: int = 0,
) -> Page:
    """Newest first; `target` matches the URL or host exactly; ValueError for an unknown status."""
    if status and status not in SCAN_STATUSES:
        raise ValueError(f"Unknown status {status!r}; one of {', '.join(SCAN_STATUSES)}.")
    where = []
    if not viewer.sees_all_scans():
        where.append(func.lower(Scan.requester_email) == viewer.email.lower())
    if target:
        where.append((Scan.target == target) | (Scan.host == target.lower()))
    if status:
        where.append(Scan.status == status)
    with sessions() as s:
        total = s.scalar(select(func.count()).select_from(Scan).where(*where)) or 0
        q = select(Scan).where(*where).order_by(Scan.created_at.desc(), Scan.id).limit(limit).offset(offset)
        return Page(list(s.scalars(q)), total, limit, offset)


def findings_of(sessions: sessionmaker[Session], scan_id: str) -> list[dict[str, Any]]:
    """The scan's findings (normalised schema) with their diff state; fixed ones are only in the diff."""
    with sessions() as s:
        q = select(FindingRecord).where(FindingRecord.scan_id == scan_id).order_by(FindingRecord.id)
        rows = list(s.scalars(q))
    return [{**r.data, "diff_state": r.diff_state} for r in rows if r.diff_state != "fixed"]


def diff_of(sessions: sessionmaker[Session], scan: Scan) -> dict[str, Any]:
    """New, unchanged and fixed findings against the previous scan of the host."""
    with sessions() as s:
        rows = list(s.scalars(select(FindingRecord).where(FindingRecord.scan_id == scan.id)))
    groups: dict[str, list[dict[str, Any]]] = {"new": [], "unchanged": [], "fixed": []}
    for r in rows:
        groups.setdefault(r.diff_state, []).append(r.data)
    return {"scan_id": scan.id, "compared": bool(scan.diff_counts), "counts": scan.diff_counts or {}, **groups}


def finding_objects(rows: list[dict[str, Any]]) -> list[Finding]:
    return [Finding.from_dict(d) for d in rows]

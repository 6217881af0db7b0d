"""The progress page's tables: one row per step of the DAG view, one per stored finding."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.models import AWAITING_OWNERSHIP, QUEUED, FindingRecord, Scan
from lib.core.dag import DagView
from lib.core.findings import SEVERITIES, Finding
from lib.engines.report import where


def steps_table(view: DagView) -> list[dict]:
    """One row per step for the table under the graph: state, tool, times, duration, why."""
    rows = []
    for n in view.nodes:
        rows.append(
            {
                "step": n.label,
                "state": n.state,
                "tool": n.tool,
                "started": n.started_at.strftime("%H:%M:%S") if n.started_at else "",
                "finished": n.finished_at.strftime("%H:%M:%S") if n.finished_at else "",
                "duration (s)": round(n.duration_s, 1) if n.duration_s is not None else None,
                "details": n.message,
            }
        )
    return rows


def findings_table(rows: list[FindingRecord]) -> list[dict]:
    """One row per stored finding, most severe first, fixed ones last."""
    order = {s: i for i, s in enumerate(SEVERITIES)}
    out = []
    for r in sorted(rows, key=lambda r: (r.diff_state == "fixed", order.get(r.severity, 9), r.title)):
        f = Finding.from_dict(r.data)
        out.append(
            {
                "severity": r.severity,
                "title": r.title,
                "change": r.diff_state,
                "tools": ", ".join(f.tools),
                "where": where(f),
                "evidence": f.evidence,
            }
        )
    return out


def queue_position(sessions: sessionmaker[Session], scan: Scan) -> int:
    """1 for the next queued scan to start; the dispatcher takes queued scans oldest confirmation first."""
    with sessions() as s:
        ahead = s.scalar(
            select(func.count())
            .select_from(Scan)
            .where(Scan.status == QUEUED, Scan.confirmed_at < scan.confirmed_at, Scan.id != scan.id)
        )
    return (ahead or 0) + 1


def why_waiting(scan: Scan, position: int, workers: int | None, busy: int | None) -> str:
    """Why a confirmed scan has not started, in a sentence: its place in the queue and what it waits for."""
    if scan.status == AWAITING_OWNERSHIP:
        return f"Waiting for the ownership proof: {scan.status_reason or 'not found yet'}"
    place = f"Position {position} in the queue"
    if workers is not None and busy is not None and busy >= workers:
        return f"{place}: all {workers} workers are busy; it starts when one is free."
    if position > 1:
        return f"{place}: {position - 1} scan(s) confirmed earlier start first."
    return f"{place}: {scan.status_reason or 'starting'}."

"""The embedded engine's DAG view: built from the scan's step rows (or, before it starts, from its plan)."""

from __future__ import annotations

from lib.dag import FINISHED, DagNode, DagView
from lib.findings import SEVERITIES, Finding
from lib.models import AWAITING_CONFIRMATION, AWAITING_OWNERSHIP, PARTIAL, QUEUED, FindingRecord, Scan, Step
from lib.pipeline import SCANNER_LABELS, STEPS, plan
from lib.report import where

STEP_LABELS = {**SCANNER_LABELS, "report": "Report", "publish": "Publish", "notify": "Notify"}
SCAN_PHASE = {AWAITING_CONFIRMATION: "pending", AWAITING_OWNERSHIP: "pending", QUEUED: "pending", PARTIAL: "failed"}


def view_from_steps(scan: Scan, steps: list[Step]) -> DagView:
    rows = {s.name: s for s in steps}
    nodes = []
    for p in plan(scan.scanners):
        row = rows.get(p.spec.name)
        state = row.state if row else ("pending" if p.enabled else "skipped")
        nodes.append(DagNode(
            id=p.spec.name, label=STEP_LABELS[p.spec.name], state=state,
            started_at=row.started_at if row else None, finished_at=row.finished_at if row else None,
            message=(row.message if row else ("" if p.enabled else "not requested")),
            log_tail="\n".join((row.log or "").splitlines()[-15:]) if row else "",
            tool=(f"{row.tool} {row.tool_version}".strip() if row else "")))
    edges = [(dep, s.name) for s in STEPS for dep in s.depends]
    countable = [n for n in nodes if n.state != "skipped" or n.message != "not requested"]
    done = sum(n.state in FINISHED for n in countable)
    return DagView(nodes, edges, phase=SCAN_PHASE.get(scan.status, scan.status), message=scan.status_reason,
                   progress=(done, len(countable)))


def steps_table(view: DagView) -> list[dict]:
    """One row per step for the table under the graph: state, tool, times, duration, why."""
    rows = []
    for n in view.nodes:
        rows.append({
            "step": n.label, "state": n.state, "tool": n.tool,
            "started": n.started_at.strftime("%H:%M:%S") if n.started_at else "",
            "finished": n.finished_at.strftime("%H:%M:%S") if n.finished_at else "",
            "duration (s)": round(n.duration_s, 1) if n.duration_s is not None else None,
            "details": n.message,
        })
    return rows


def findings_table(rows: list[FindingRecord]) -> list[dict]:
    """One row per stored finding, most severe first, fixed ones last."""
    order = {s: i for i, s in enumerate(SEVERITIES)}
    out = []
    for r in sorted(rows, key=lambda r: (r.diff_state == "fixed", order.get(r.severity, 9), r.title)):
        f = Finding.from_dict(r.data)
        out.append({"severity": r.severity, "title": r.title, "change": r.diff_state, "tools": ", ".join(f.tools),
                    "where": where(f), "evidence": f.evidence})
    return out

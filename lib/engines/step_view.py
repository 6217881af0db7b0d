"""A scan's DAG view built from its step rows (or, before it starts, from its plan): what the embedded engine
reports as progress, and what the argo engine shows before its Workflow exists."""

from __future__ import annotations

from lib.adapters.models import AWAITING_CONFIRMATION, AWAITING_OWNERSHIP, PARTIAL, QUEUED, Scan, Step
from lib.core.dag import FINISHED, DagNode, DagView
from lib.core.pipeline import SCANNER_LABELS, STEPS, plan

STEP_LABELS = {**SCANNER_LABELS, "report": "Report", "publish": "Publish", "notify": "Notify"}
SCAN_PHASE = {AWAITING_CONFIRMATION: "pending", AWAITING_OWNERSHIP: "pending", QUEUED: "pending", PARTIAL: "failed"}


def view_from_steps(scan: Scan, steps: list[Step]) -> DagView:
    rows = {s.name: s for s in steps}
    nodes = []
    for p in plan(scan.scanners):
        row = rows.get(p.spec.name)
        state = row.state if row else ("pending" if p.enabled else "skipped")
        nodes.append(
            DagNode(
                id=p.spec.name,
                label=STEP_LABELS[p.spec.name],
                state=state,
                started_at=row.started_at if row else None,
                finished_at=row.finished_at if row else None,
                message=(row.message if row else ("" if p.enabled else "not requested")),
                log_tail="\n".join((row.log or "").splitlines()[-15:]) if row else "",
                tool=(f"{row.tool} {row.tool_version}".strip() if row else ""),
            )
        )
    edges = [(dep, s.name) for s in STEPS for dep in s.depends]
    countable = [n for n in nodes if n.state != "skipped" or n.message != "not requested"]
    done = sum(n.state in FINISHED for n in countable)
    return DagView(
        nodes,
        edges,
        phase=SCAN_PHASE.get(scan.status, scan.status),
        message=scan.status_reason,
        progress=(done, len(countable)),
    )

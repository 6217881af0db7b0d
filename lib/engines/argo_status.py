"""Argo `Workflow` objects -> the DAG view model the progress page draws, and a summary for the scan record.

Why: in cluster mode the scan's progress lives in `Workflow.status.nodes`, written by the Argo controller.
This turns it into the same `DagView` the embedded engine produces, so the page never knows which engine ran.
Pure functions over the API's JSON (dicts, as `lib.adapters.kube` returns them); no I/O.

How a controller writes the graph (see tests/fixtures/argo/, written by Argo's own controller tests): every node
lists its `children`; the root is the node whose id is the workflow name; `boundaryID` names the enclosing DAG/Steps
node; a Retry node's children are its attempts, and only the attempt that ended the retry carries the edges onward;
a TaskGroup's children are the expanded items (withItems/withParam); `Skipped` nodes have phase Skipped (`when`
false) or Omitted (`depends` not met); the exit handler is a node named `<workflow>.onExit`.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lib.core.dag import DagNode, DagView
from lib.core.pipeline import STEP_NAMES

# Argo node `type` -> DagNode.kind
NODE_KINDS: dict[str, str] = {
    "Pod": "step",
    "Container": "step",
    "HTTP": "step",
    "Plugin": "step",
    "Skipped": "step",
    "DAG": "dag",
    "Steps": "dag",
    "Retry": "retry",
    "TaskGroup": "taskgroup",
    "StepGroup": "taskgroup",
    "Suspend": "suspend",
}
# Argo phase -> DagNode.state / DagView.phase
STATES: dict[str, str] = {
    "Pending": "pending",
    "Running": "running",
    "Succeeded": "succeeded",
    "Failed": "failed",
    "Error": "error",
    "Skipped": "skipped",
    "Omitted": "omitted",
}
LEAF_TYPES = frozenset({"Pod", "Container", "HTTP", "Plugin", "Suspend"})  # what Argo's "N/M" progress counts
_PROGRESS = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 as Kubernetes writes it ("2020-06-02T00:26:32Z") -> aware datetime; anything else -> None."""
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def state_of(phase: Any) -> str:
    return STATES.get(phase or "", "pending")


def decode_compressed_nodes(blob: str) -> dict[str, dict]:
    """`status.compressedNodes`: base64 of gzip of the JSON `nodes` map (how the controller shrinks big status)."""
    return json.loads(gzip.decompress(base64.b64decode(blob, validate=False)))


def workflow_nodes(wf: dict) -> tuple[dict[str, dict], list[str]]:
    """The `status.nodes` map, decoded from `compressedNodes` when needed, and notes for what could not be read."""
    status = wf.get("status") or {}
    nodes = status.get("nodes") or {}
    notes: list[str] = []
    if not nodes and status.get("compressedNodes"):
        try:
            nodes = decode_compressed_nodes(status["compressedNodes"])
        except (binascii.Error, OSError, EOFError, ValueError) as e:
            notes.append(
                f"The workflow's compressed node status could not be decoded ({type(e).__name__}); "
                "step details are not shown."
            )
            nodes = {}
    if not nodes and status.get("offloadNodeStatusVersion"):
        notes.append(
            "This workflow's step status is offloaded to the Argo Workflows database "
            f"(offloadNodeStatusVersion {status['offloadNodeStatusVersion']}); the Kubernetes API does not hold "
            "it, so only the overall phase is shown."
        )
    return nodes, notes


def parse_progress(text: Any) -> tuple[int, int] | None:
    m = _PROGRESS.match(text) if isinstance(text, str) else None
    return (int(m[1]), int(m[2])) if m else None


def _is_exit_handler(node: dict) -> bool:
    return str(node.get("name", "")).endswith(".onExit")


def _walk_order(nodes: dict[str, dict], starts: list[str]) -> list[str]:
    """Breadth-first from each start in turn along `children`, then whatever is left by start time and name.

    The order decides the vertical order inside each layer, so TaskGroup items stay in item order.
    """
    seen: set[str] = set()
    order: list[str] = []

    def walk(start: str) -> None:
        queue = deque([start])
        while queue:
            nid = queue.popleft()
            if nid in seen:
                continue
            seen.add(nid)
            order.append(nid)
            queue.extend(c for c in nodes[nid].get("children") or () if c in nodes and c not in seen)

    for s in starts:
        if s in nodes:
            walk(s)
    rest = sorted(
        (n for n in nodes if n not in seen), key=lambda n: (nodes[n].get("startedAt") or "~", nodes[n].get("name") or n)
    )
    for n in rest:
        if n not in seen:
            walk(n)
    return order


def _stepless_view(name: str, status: dict, phase: str, message: str, notes: list[str]) -> DagView:
    """A Workflow with no readable nodes: just its root (when named), and a note saying why there is no graph."""
    if not notes:
        notes.append(
            "The workflow has not started any step yet."
            if phase in ("pending", "running")
            else "The workflow recorded no steps."
        )
    root_node = DagNode(
        id=name or "workflow",
        label=name or "workflow",
        state=phase,
        kind="dag",
        started_at=parse_time(status.get("startedAt")),
        finished_at=parse_time(status.get("finishedAt")),
        message=message,
    )
    progress = parse_progress(status.get("progress")) or (0, 0)
    return DagView(
        nodes=[root_node] if name else [],
        edges=[],
        phase=phase,
        message=message,
        progress=progress,
        notes=notes,
        root=root_node.id if name else "",
    )


def _root_id(nodes: dict[str, dict], name: str, notes: list[str]) -> str:
    """The node named like the workflow; else (noted) the first node without boundary that is not the exit handler."""
    if name and name in nodes:
        return name
    notes.append("The workflow's root node is missing from its status; the graph may be incomplete.")
    return next((i for i, n in nodes.items() if not n.get("boundaryID") and not _is_exit_handler(n)), "")


def _groups(nodes: dict[str, dict], order: list[str]) -> dict[str, str]:
    """Each Retry attempt or TaskGroup item -> its group node (the first in walk order, should two claim it)."""
    group: dict[str, str] = {}
    for nid in order:
        n = nodes[nid]
        if n.get("type") in ("Retry", "TaskGroup", "StepGroup"):
            for c in n.get("children") or ():
                group.setdefault(c, nid)
    return group


def _dag_node(nid: str, n: dict, nodes: dict[str, dict], group: dict[str, str]) -> DagNode:
    """One Argo node as a DagNode; a Retry node's attempts count only the children present in the status."""
    ntype = n.get("type", "")
    children = n.get("children") or []
    return DagNode(
        id=nid,
        label=n.get("displayName") or n.get("name") or nid,
        state=state_of(n.get("phase")),
        kind="onexit" if _is_exit_handler(n) else NODE_KINDS.get(ntype, "step"),
        started_at=parse_time(n.get("startedAt")),
        finished_at=parse_time(n.get("finishedAt")),
        message=n.get("message") or "",
        parent=n.get("boundaryID") or "",
        attempts=sum(1 for c in children if c in nodes) if ntype == "Retry" else 0,
        group=group.get(nid, ""),
    )


def _child_edges(nodes: dict[str, dict], order: list[str]) -> tuple[list[tuple[str, str]], int]:
    """Parent -> child edges in walk order, and how many children are named but not (yet) in the status."""
    edges: list[tuple[str, str]] = []
    missing = 0
    for nid in order:
        for c in nodes[nid].get("children") or []:
            if c in nodes:
                edges.append((nid, c))
            else:
                missing += 1
    return edges, missing


def _exit_edges(nodes: dict[str, dict], root: str, exit_ids: list[str]) -> list[tuple[str, str]]:
    """The exit handler runs after the workflow's last steps: draw it after the root's outbound nodes."""
    if not root:
        return []
    outbound = [o for o in nodes[root].get("outboundNodes") or () if o in nodes] or [root]
    return [(o, e) for e in exit_ids for o in outbound]


def _progress(status: dict, nodes: dict[str, dict]) -> tuple[int, int]:
    """Argo's own "N/M" when written, else the same count made from the leaf nodes' phases."""
    parsed = parse_progress(status.get("progress"))
    if parsed is not None:
        return parsed
    leaves = [n for n in nodes.values() if n.get("type") in LEAF_TYPES]
    done = sum(1 for n in leaves if state_of(n.get("phase")) in ("succeeded", "failed", "error", "skipped", "omitted"))
    return (done, len(leaves))


def workflow_view(wf: dict) -> DagView:
    """Build the DagView of one Workflow (any phase, including not started, compressed or offloaded status)."""
    status = wf.get("status") or {}
    name = (wf.get("metadata") or {}).get("name", "")
    nodes, notes = workflow_nodes(wf)
    phase = state_of(status.get("phase"))
    message = status.get("message") or ""
    if not nodes:
        return _stepless_view(name, status, phase, message, notes)

    root = _root_id(nodes, name, notes)
    exit_ids = [i for i, n in nodes.items() if n.get("name") == f"{name}.onExit"]
    order = _walk_order(nodes, [root, *exit_ids] if root else exit_ids)
    group = _groups(nodes, order)
    out_nodes = [_dag_node(nid, nodes[nid], nodes, group) for nid in order]
    edges, missing = _child_edges(nodes, order)
    edges.extend(_exit_edges(nodes, root, exit_ids))
    if missing:
        notes.append(f"{missing} child node(s) named in the status are not in it yet; they are not drawn.")
    return DagView(
        nodes=out_nodes,
        edges=edges,
        phase=phase,
        message=message,
        progress=_progress(status, nodes),
        notes=notes,
        root=root,
    )


@dataclass(frozen=True)
class WorkflowSummary:
    """What the scan record keeps from a Workflow: overall outcome, times, and each pipeline task's phase."""

    name: str
    phase: str  # the Argo phase as written (Pending, Running, Succeeded, Failed, Error); "" when none yet
    started_at: datetime | None
    finished_at: datetime | None
    message: str
    tasks: dict[str, str | None] = field(default_factory=dict)  # task -> Argo phase; None: not in the status

    @property
    def state(self) -> str:
        return state_of(self.phase)

    @property
    def finished(self) -> bool:
        return self.phase in ("Succeeded", "Failed", "Error")

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return max(0.0, (self.finished_at - self.started_at).total_seconds())


def workflow_summary(wf: dict, tasks: tuple[str, ...] = STEP_NAMES) -> WorkflowSummary:
    """Summarise a (usually finished) Workflow; tasks are the top-level tasks found by displayName.

    A task that is not a direct member of the root DAG is looked up inside the exit handler, so a `notify`
    step run from `onExit` is still found.
    """
    status = wf.get("status") or {}
    name = (wf.get("metadata") or {}).get("name", "")
    nodes, _ = workflow_nodes(wf)
    exit_ids = {i for i, n in nodes.items() if n.get("name") == f"{name}.onExit"}
    top: dict[str, str] = {}
    in_exit: dict[str, str] = {}
    for n in nodes.values():
        label = n.get("displayName") or ""
        if label not in tasks:
            continue
        if n.get("boundaryID") == name:
            top[label] = n.get("phase") or "Pending"
        elif n.get("boundaryID") in exit_ids:
            in_exit[label] = n.get("phase") or "Pending"
    return WorkflowSummary(
        name=name,
        phase=status.get("phase") or "",
        started_at=parse_time(status.get("startedAt")),
        finished_at=parse_time(status.get("finishedAt")),
        message=status.get("message") or "",
        tasks={t: top.get(t, in_exit.get(t)) for t in tasks},
    )

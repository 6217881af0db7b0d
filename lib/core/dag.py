"""The DAG view model both engines produce for the progress page, and its layered layout.

The embedded engine builds it from step rows, the Argo engine from `Workflow.status.nodes`; the figure is
drawn from this model only, so the progress page never knows which engine ran the scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Node states, lower-case; Argo phases map onto them one to one.
STATES: tuple[str, ...] = ("pending", "running", "succeeded", "failed", "error", "skipped", "omitted")
FINISHED: frozenset[str] = frozenset({"succeeded", "failed", "error", "skipped", "omitted"})


@dataclass
class DagNode:
    id: str
    label: str
    state: str
    kind: str = "step"  # step | dag | retry | taskgroup | suspend | onexit | collapsed
    started_at: datetime | None = None
    finished_at: datetime | None = None
    message: str = ""
    log_tail: str = ""
    parent: str = ""  # boundary (enclosing DAG/steps node), "" at top level
    attempts: int = 0  # for retry nodes: how many attempts ran
    tool: str = ""
    group: str = ""  # the Retry node this is an attempt of, or the TaskGroup this is a member of; "" if none
    counts: dict[str, int] = field(default_factory=dict)  # state -> how many hidden members (collapsed, grouped)

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or datetime.now(self.started_at.tzinfo)
        return max(0.0, (end - self.started_at).total_seconds())


@dataclass
class DagView:
    nodes: list[DagNode]
    edges: list[tuple[str, str]]
    phase: str = "pending"
    message: str = ""
    progress: tuple[int, int] = (0, 0)  # (finished, total) countable steps
    notes: list[str] = field(default_factory=list)
    root: str = ""  # id of the node that stands for the whole run (Argo: the node whose id is the workflow name)
    error: str = ""  # why the live status could not be read (e.g. the Kubernetes API is down): a banner

    @property
    def finished(self) -> bool:
        return self.phase in FINISHED

    def node(self, node_id: str) -> DagNode:
        return next(n for n in self.nodes if n.id == node_id)

    def by_id(self) -> dict[str, DagNode]:
        """All nodes by id, for callers that look up many (node() is a linear scan)."""
        return {n.id: n for n in self.nodes}


def layers(node_ids: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering: each node sits one layer right of its deepest parent. Cycles are tolerated."""
    parents: dict[str, list[str]] = {n: [] for n in node_ids}
    for a, b in edges:
        if a in parents and b in parents:
            parents[b].append(a)
    layer: dict[str, int] = {}
    visiting: set[str] = set()
    # A depth-first walk with an explicit stack (long chains of thousands of nodes exceed Python's recursion
    # limit); a parent still being visited (a cycle) counts as depth 0.
    for start in node_ids:
        if start in layer:
            continue
        visiting.add(start)
        stack: list[list] = [[start, iter(parents[start]), -1]]
        while stack:
            frame = stack[-1]
            n, it = frame[0], frame[1]
            pushed = False
            for p in it:
                if p in layer:
                    frame[2] = max(frame[2], layer[p])
                elif p in visiting:
                    frame[2] = max(frame[2], 0)
                else:
                    visiting.add(p)
                    stack.append([p, iter(parents[p]), -1])
                    pushed = True
                    break
            if pushed:
                continue
            stack.pop()
            visiting.discard(n)
            layer[n] = 1 + frame[2]
            if stack:
                stack[-1][2] = max(stack[-1][2], layer[n])
    return layer


def positions(view: DagView) -> dict[str, tuple[float, float]]:
    """x = layer, y = spread evenly (centred) within the layer, in input order."""
    ids = [n.id for n in view.nodes]
    layer = layers(ids, view.edges)
    by_layer: dict[int, list[str]] = {}
    for n in ids:
        by_layer.setdefault(layer[n], []).append(n)
    pos = {}
    for x, members in by_layer.items():
        k = len(members)
        for i, n in enumerate(members):
            pos[n] = (float(x), (k - 1) / 2 - i)
    return pos

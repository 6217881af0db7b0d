"""Operators' view of the cluster, the pandas half: a ClusterSnapshot (lib.insights.cluster_snapshot) -> frames of
nodes, pending pods and autoscaler events, capacity per node group, the sampler's rows, and the plotly figures the
cluster page draws.

Why apart from the reading: these are pure functions of one snapshot (or of the sampler's frame), tested as numbers.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from lib.insights.category_traces import (
    SYMBOLS,
    categories,
    category_figure,
    customdata_fields,
    hover_template,
    palette_for,
)
from lib.insights.cluster_snapshot import ClusterSnapshot
from lib.insights.figure_style import styled

WORKFLOW_LABEL = "workflows.argoproj.io/workflow"
SCAN_WORKFLOW = re.compile(r"^scan-([0-9a-f]{12})$")
GROUP_LABELS = ("eks.amazonaws.com/nodegroup", "role", "karpenter.sh/nodepool")
CAPACITY_LABELS = ("eks.amazonaws.com/capacityType", "karpenter.sh/capacity-type")
INSTANCE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")


# ------------------------------------------------------------------------------------------------ parsing

_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$")
_SUFFIX = {
    None: 1.0,
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}


@lru_cache(maxsize=8192)
def quantity(text: str | int | float | None) -> float:
    """A Kubernetes resource quantity ("250m", "1.5", "512Mi", "1e3") as a float; 0.0 when absent or malformed."""
    if text is None:
        return 0.0
    if isinstance(text, (int, float)):
        return float(text)
    m = _QUANTITY.match(text.strip())
    if not m:
        return 0.0
    number = float(m[1] + (m[2] or ""))
    return number * _SUFFIX[m[3]]


def _label(labels: dict[str, str], keys: tuple[str, ...], default: str = "") -> str:
    return next((labels[k] for k in keys if labels.get(k)), default)


def capacity_type(labels: dict[str, str]) -> str:
    """SPOT / ON_DEMAND from EKS's label, or Karpenter's (spot / on-demand) normalised to the same words."""
    value = _label(labels, CAPACITY_LABELS)
    return value.upper().replace("-", "_") if value else "unknown"


def _ts(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def scan_of(pod: dict) -> str | None:
    """The scan id of a pod that belongs to a scan Workflow (label workflows.argoproj.io/workflow=scan-<id>)."""
    wf = ((pod.get("metadata") or {}).get("labels") or {}).get(WORKFLOW_LABEL, "")
    m = SCAN_WORKFLOW.match(wf)
    return m[1] if m else None


def pod_requests(pod: dict) -> tuple[float, float]:
    """(cpu cores, memory bytes) the scheduler reserves: max(sum of containers, largest init container) + overhead."""
    spec = pod.get("spec") or {}

    def req(c: dict) -> tuple[float, float]:
        r = (c.get("resources") or {}).get("requests") or {}
        return quantity(r.get("cpu")), quantity(r.get("memory"))

    cpu = mem = 0.0
    for c in spec.get("containers") or ():
        a, b = req(c)
        cpu += a
        mem += b
    for c in spec.get("initContainers") or ():
        a, b = req(c)
        cpu, mem = max(cpu, a), max(mem, b)
    over = spec.get("overhead") or {}
    return cpu + quantity(over.get("cpu")), mem + quantity(over.get("memory"))


# ------------------------------------------------------------------------------------------------ frames

NODE_COLUMNS = [
    "node",
    "group",
    "capacity_type",
    "instance_type",
    "zone",
    "age_h",
    "ready",
    "schedulable",
    "cpu_allocatable",
    "cpu_requested",
    "cpu_pct",
    "mem_allocatable_gib",
    "mem_requested_gib",
    "mem_pct",
    "pods",
]
GIB = 2.0**30


def nodes_frame(snap: ClusterSnapshot) -> pd.DataFrame:
    """One row per node: where it belongs, how old, Ready, and allocatable vs requested CPU and memory."""
    cpu: defaultdict[str, float] = defaultdict(float)
    mem: defaultdict[str, float] = defaultdict(float)
    count: Counter[str] = Counter()
    for pod in snap.pods:
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            c, m = pod_requests(pod)
            cpu[node] += c
            mem[node] += m
            count[node] += 1
    rows = []
    for n in snap.nodes:
        meta, status = n.get("metadata") or {}, n.get("status") or {}
        labels, name = meta.get("labels") or {}, meta.get("name", "")
        alloc = status.get("allocatable") or {}
        created = _ts(meta.get("creationTimestamp"))
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ())
        a_cpu, a_mem = quantity(alloc.get("cpu")), quantity(alloc.get("memory"))
        rows.append(
            {
                "node": name,
                "group": _label(labels, GROUP_LABELS, "unknown"),
                "capacity_type": capacity_type(labels),
                "instance_type": _label(labels, INSTANCE_LABELS),
                "zone": _label(labels, ZONE_LABELS),
                "age_h": (snap.taken_at - created).total_seconds() / 3600 if created else None,
                "ready": ready,
                "schedulable": not (n.get("spec") or {}).get("unschedulable", False),
                "cpu_allocatable": a_cpu,
                "cpu_requested": cpu[name],
                "cpu_pct": 100 * cpu[name] / a_cpu if a_cpu else None,
                "mem_allocatable_gib": a_mem / GIB,
                "mem_requested_gib": mem[name] / GIB,
                "mem_pct": 100 * mem[name] / a_mem if a_mem else None,
                "pods": count[name],
            }
        )
    return pd.DataFrame(rows, columns=NODE_COLUMNS).sort_values(["group", "capacity_type", "node"], ignore_index=True)


PENDING_COLUMNS = ["namespace", "pod", "age_min", "reason", "message", "scan", "scan_link"]


def pending_frame(snap: ClusterSnapshot) -> pd.DataFrame:
    """Pending pods with why (the scheduler's Unschedulable message, or the waiting container's reason) and the
    scan that owns them, linked to its progress page."""
    rows = []
    for pod in snap.pods:
        status = pod.get("status") or {}
        if status.get("phase") != "Pending":
            continue
        meta = pod.get("metadata") or {}
        cond = next(
            (
                c
                for c in status.get("conditions") or ()
                if c.get("type") == "PodScheduled" and c.get("status") == "False"
            ),
            None,
        )
        reason, message = (cond.get("reason", ""), cond.get("message", "")) if cond else ("", "")
        if not cond:
            waiting = next(
                (
                    cs.get("state", {}).get("waiting")
                    for cs in status.get("containerStatuses") or ()
                    if (cs.get("state") or {}).get("waiting")
                ),
                None,
            )
            reason, message = ((waiting or {}).get("reason", "Pending"), (waiting or {}).get("message", ""))
        created = _ts(meta.get("creationTimestamp"))
        scan = scan_of(pod)
        rows.append(
            {
                "namespace": meta.get("namespace", ""),
                "pod": meta.get("name", ""),
                "age_min": (snap.taken_at - created).total_seconds() / 60 if created else None,
                "reason": reason,
                "message": message,
                "scan": scan,
                "scan_link": f"/progress?scan={scan}" if scan else None,
            }
        )
    return pd.DataFrame(rows, columns=PENDING_COLUMNS).sort_values("age_min", ascending=False, ignore_index=True)


EVENT_COLUMNS = ["time", "reason", "object", "namespace", "message", "count"]


def events_frame(snap: ClusterSnapshot) -> pd.DataFrame:
    """Cluster-autoscaler events (TriggeredScaleUp, NotTriggerScaleUp, ScaleDown), newest first."""
    rows = []
    for e in snap.events:
        obj = e.get("involvedObject") or {}
        when = _ts(e.get("lastTimestamp") or e.get("eventTime") or (e.get("metadata") or {}).get("creationTimestamp"))
        rows.append(
            {
                "time": when,
                "reason": e.get("reason", ""),
                "object": f"{obj.get('kind', '')}/{obj.get('name', '')}",
                "namespace": (e.get("metadata") or {}).get("namespace", ""),
                "message": e.get("message", ""),
                "count": int(e.get("count") or 1),
            }
        )
    out = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    out["time"] = pd.to_datetime(out["time"], utc=True)
    return out.sort_values("time", ascending=False, ignore_index=True)


def scan_pods_running(snap: ClusterSnapshot) -> int:
    return sum(1 for p in snap.pods if (p.get("status") or {}).get("phase") == "Running" and scan_of(p))


def snapshot_samples(snap: ClusterSnapshot) -> list[tuple[str, str, str, float]]:
    """(metric, group, capacity_type, value) rows the sampler records: node count per group and capacity type,
    pending pods, running scan pods."""
    groups: Counter[tuple[str, str]] = Counter()
    for n in snap.nodes:
        labels = (n.get("metadata") or {}).get("labels") or {}
        groups[(_label(labels, GROUP_LABELS, "unknown"), capacity_type(labels))] += 1
    pending = sum(1 for p in snap.pods if (p.get("status") or {}).get("phase") == "Pending")
    return [("nodes", g, c, float(v)) for (g, c), v in sorted(groups.items())] + [
        ("pending_pods", "", "", float(pending)),
        ("scan_pods_running", "", "", float(scan_pods_running(snap))),
    ]


def capacity_by_group(nodes: pd.DataFrame) -> pd.DataFrame:
    """group, capacity_type, nodes, ready, cpu/memory allocatable and requested summed per node group."""
    g = nodes.groupby(["group", "capacity_type"], as_index=False)
    return g.agg(
        nodes=("node", "size"),
        ready=("ready", "sum"),
        cpu_allocatable=("cpu_allocatable", "sum"),
        cpu_requested=("cpu_requested", "sum"),
        mem_allocatable_gib=("mem_allocatable_gib", "sum"),
        mem_requested_gib=("mem_requested_gib", "sum"),
    )


# ------------------------------------------------------------------------------------------------ figures


def capacity_figure(capacity: pd.DataFrame) -> go.Figure:
    """Allocatable vs requested CPU per node group and capacity type."""
    long = capacity.assign(series=capacity["group"] + " · " + capacity["capacity_type"]).melt(
        id_vars="series", value_vars=["cpu_allocatable", "cpu_requested"], var_name="kind", value_name="cores"
    )
    long["kind"] = long["kind"].map({"cpu_allocatable": "allocatable", "cpu_requested": "requested"})
    fig = category_figure(
        long,
        "series",
        "cores",
        "kind",
        {"series": "", "cores": "CPU cores"},
        colors={"allocatable": "#b0bec5", "requested": "#2b59c3"},
        layout={"barmode": "group"},
    )
    return styled(fig, "CPU: allocatable vs requested per node group")


def node_usage_figure(nodes: pd.DataFrame) -> go.Figure:
    """Every node by requested CPU % and memory %: full nodes top right, idle ones bottom left; a colour per
    node group, a symbol per capacity type."""
    labels = {"cpu_pct": "CPU requested %", "mem_pct": "memory requested %"}
    color = palette_for(categories(nodes["group"]))
    symbol = dict(zip(categories(nodes["capacity_type"]), itertools.cycle(SYMBOLS), strict=False))
    hover = ["instance_type", "zone", "pods"]
    fig = go.Figure(layout={"xaxis_title_text": labels["cpu_pct"], "yaxis_title_text": labels["mem_pct"]})
    for (group, cap), rows in nodes.groupby(["group", "capacity_type"], sort=False):
        fields = [
            ("group", str(group)),
            ("capacity_type", str(cap)),
            (labels["cpu_pct"], "%{x}"),
            (labels["mem_pct"], "%{y}"),
            *customdata_fields(hover),
        ]
        fig.add_trace(
            go.Scatter(
                x=rows["cpu_pct"],
                y=rows["mem_pct"],
                mode="markers",
                name=f"{group}, {cap}",
                legendgroup=f"{group}, {cap}",
                marker={"color": color[group], "symbol": symbol[cap], "size": 7, "opacity": 0.7},
                hovertext=rows["node"],
                customdata=rows[hover].to_numpy(),
                hovertemplate=hover_template(fields, head="%{hovertext}"),
            )
        )
    return styled(fig, "Requested share of each node")


def _lines(lines: pd.DataFrame, dotted: tuple[str, ...] = ()) -> go.Figure:
    """A step line per series of a taken_at/series/value frame (the samples change only when sampled)."""
    fig = category_figure(
        lines,
        "taken_at",
        "value",
        "series",
        {"taken_at": "", "value": "count"},
        trace=go.Scatter,
        mode="lines",
        line_shape="hv",
        color_attr="line",
    )
    fig.for_each_trace(lambda t: t.update(line_dash="dot") if t.name in dotted else None)
    return fig


def samples_series(samples: pd.DataFrame, metric: str) -> pd.DataFrame:
    """taken_at, series, value for one metric (series: 'group · capacity type' for nodes)."""
    s = samples[samples["metric"] == metric]
    series = (s["group"] + " · " + s["capacity_type"]) if metric == "nodes" else s["metric"]
    return pd.DataFrame({"taken_at": s["taken_at"], "series": series, "value": s["value"]})


def node_count_figure(samples: pd.DataFrame, scan_starts: pd.DataFrame) -> go.Figure:
    """Node count per group and capacity type over time, pending pods dotted, scan starts marked on the x axis."""
    lines = pd.concat(
        [samples_series(samples, "nodes"), samples_series(samples, "pending_pods").assign(series="pending pods")],
        ignore_index=True,
    ).sort_values("taken_at")
    fig = _lines(lines, dotted=("pending pods",))
    if len(scan_starts):
        fig.add_trace(
            go.Scatter(
                x=scan_starts["started"],
                y=[0] * len(scan_starts),
                mode="markers",
                name="scan start",
                marker={"symbol": "triangle-up", "size": 9, "color": "#d62728"},
                text=scan_starts["scan"],
                hovertemplate="scan %{text}<br>%{x}<extra></extra>",
            )
        )
    return styled(fig, "Nodes per group over time (▲ scan starts)")


def pool_figure(samples: pd.DataFrame) -> go.Figure:
    """Embedded mode: workers busy / idle and queue length over time."""
    lines = pd.concat(
        [samples_series(samples, m) for m in ("workers_busy", "workers_idle", "queue_length")], ignore_index=True
    ).sort_values("taken_at")
    names = {"workers_busy": "workers busy", "workers_idle": "workers idle", "queue_length": "scans queued"}
    fig = _lines(lines.assign(series=lines["series"].map(names).fillna(lines["series"])))
    fig.update_yaxes(rangemode="tozero", tickformat=",d", dtick=1 if lines["value"].max() <= 10 else None)
    return styled(fig, "Worker pool over time")


@dataclass(frozen=True)
class ClusterView:
    """Everything the cluster page draws for one snapshot."""

    snapshot: ClusterSnapshot
    nodes: pd.DataFrame
    capacity: pd.DataFrame
    pending: pd.DataFrame
    events: pd.DataFrame
    figures: dict[str, go.Figure] = field(default_factory=dict)


def cluster_view(snap: ClusterSnapshot) -> ClusterView:
    """Frames and the snapshot's own figures (the over-time figure needs the sampler's rows: node_count_figure)."""
    nodes = nodes_frame(snap)
    capacity = capacity_by_group(nodes)
    return ClusterView(
        snap,
        nodes,
        capacity,
        pending_frame(snap),
        events_frame(snap),
        {"capacity": capacity_figure(capacity), "usage": node_usage_figure(nodes)},
    )


def summary(view: ClusterView) -> dict[str, Any]:
    """Headline numbers: nodes (ready), spot nodes, pending pods, running scan pods."""
    n = view.nodes
    return {
        "nodes": len(n),
        "ready": int(n["ready"].sum()),
        "spot": int((n["capacity_type"] == "SPOT").sum()),
        "pending": len(view.pending),
        "scan_pods": scan_pods_running(view.snapshot),
    }


SUMMARY_LABELS = {
    "nodes": "Nodes",
    "ready": "Ready",
    "spot": "Spot nodes",
    "pending": "Pending pods",
    "scan_pods": "Scan pods running",
}  # summary() key -> the page's metric label, in the order shown

"""The progress page's DAG figure (plotly), drawn from a DagView only, and kept readable at thousands of nodes.

Why condense: a Workflow with a 2,000-item fan-out and retries has 5,000 nodes; drawn one marker each it is a
smear that a browser barely moves. `condense` folds retry attempts into their Retry node and replaces a TaskGroup
fan-out larger than `max_fanout` by one "collapsed" node that counts its members by state. Nothing is lost for
the reader: the hover text of a folded node says what it stands for.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import replace
from datetime import datetime

import plotly.graph_objects as go

from lib.core.dag import FINISHED, STATES, DagNode, DagView, positions

STATE_COLORS: dict[str, str] = {
    "pending": "#b0b7c3",
    "running": "#1f77b4",
    "succeeded": "#2ca02c",
    "failed": "#d62728",
    "error": "#8c1c13",
    "skipped": "#e0e0e0",
    "omitted": "#f2d49b",
}
KIND_SYMBOLS: dict[str, str] = {
    "step": "circle",
    "dag": "diamond",
    "retry": "hexagon",
    "taskgroup": "star-diamond",
    "suspend": "hourglass",
    "onexit": "triangle-right",
    "collapsed": "square",
}
MAX_FANOUT = 20  # TaskGroups with more members than this are drawn as one collapsed node
DETAIL_LIMIT = 150  # above this many nodes, retry attempts are folded into their Retry node
LABEL_LIMIT = 60  # above this many drawn nodes, labels go to the hover text only
MESSAGE_CHARS = 300


def aggregate_state(counts: Counter | dict[str, int]) -> str:
    """One state for a group of nodes: running while any runs or some are still to run, else the worst end."""
    present = {s for s, k in counts.items() if k}
    if not present:
        return "pending"
    if "running" in present or ("pending" in present and present & FINISHED):
        return "running"
    if present == {"pending"}:
        return "pending"
    for s in ("error", "failed"):
        if s in present:
            return s
    if "succeeded" in present:
        return "succeeded"
    return "omitted" if "omitted" in present else "skipped"


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[s]} {s}" for s in STATES if counts.get(s))


def _group_members(view: DagView, by_id: dict[str, DagNode]) -> dict[str, list[str]]:
    """Each group node's member ids, in view order; a `group` naming no node in the view is ignored."""
    members: dict[str, list[str]] = {}
    for n in view.nodes:
        if n.group and n.group in by_id:
            members.setdefault(n.group, []).append(n.id)
    return members


def _retry_counts(members: dict[str, list[str]], by_id: dict[str, DagNode]) -> dict[str, Counter]:
    """Attempt states per Retry node: the counts its folded node's hover shows instead of the attempts."""
    return {gid: Counter(by_id[i].state for i in ids) for gid, ids in members.items() if by_id[gid].kind == "retry"}


def _collapsed_node(g: DagNode, items: list[DagNode]) -> DagNode:
    """The one node standing for a TaskGroup's fan-out: aggregate state, overall times, counts per state."""
    counts = Counter(m.state for m in items)
    starts = [m.started_at for m in items if m.started_at]
    ends = [m.finished_at for m in items if m.finished_at]
    state = aggregate_state(counts)
    return DagNode(
        id=f"{g.id}::collapsed",
        label=f"{g.label} ×{len(items)}",
        state=state,
        kind="collapsed",
        started_at=min(starts) if starts else None,
        finished_at=max(ends) if ends and state in FINISHED else None,
        message=f"{len(items)} items collapsed: {_counts_text(counts)}",
        parent=g.parent,
        group=g.id,
        counts=dict(counts),
    )


def _collapsed_fanouts(members: dict[str, list[str]], by_id: dict[str, DagNode], max_fanout: int) -> dict[str, DagNode]:
    """A collapsed node for each TaskGroup with more than `max_fanout` members, by TaskGroup id."""
    return {
        gid: _collapsed_node(by_id[gid], [by_id[i] for i in ids])
        for gid, ids in members.items()
        if by_id[gid].kind == "taskgroup" and len(ids) > max_fanout
    }


def _hide_nested(view: DagView, by_id: dict[str, DagNode], rep: dict[str, str]) -> None:
    """Inherit hiding through nesting: a node inside a hidden boundary (by `parent`) is hidden with it (in place)."""
    memo: dict[str, str | None] = {}

    def nearest_hidden(x: str) -> str | None:
        """The closest node up the `parent` chain from x (x included) that is hidden, else None."""
        path = []
        while x and x in by_id and x not in memo:
            if x in rep:
                found: str | None = x
                break
            path.append(x)
            x = by_id[x].parent
        else:
            found = memo.get(x)
        for p in path:
            memo[p] = found
        return found

    for n in view.nodes:
        if n.id not in rep:
            a = nearest_hidden(n.parent)
            if a is not None:
                rep[n.id] = a


def _standing_for(rep: dict[str, str], x: str) -> str:
    """The shown node that x ends up folded into (x itself when not hidden); the bound guards against a cycle."""
    seen = 0
    while x in rep and seen < 64:
        x = rep[x]
        seen += 1
    return x


def _shown_nodes(
    view: DagView, rep: dict[str, str], retry_counts: dict[str, Counter], collapsed: dict[str, DagNode]
) -> list[DagNode]:
    """Each shown node once, in the order its first member appears; Retry nodes carry their attempt counts."""
    out: list[DagNode] = []
    placed: set[str] = set()
    for n in view.nodes:
        r = _standing_for(rep, n.id)
        if r in placed:
            continue
        placed.add(r)
        if r == n.id:
            if n.id in retry_counts:
                n = replace(n, counts=dict(retry_counts[n.id]))
            out.append(n)
        elif r.endswith("::collapsed"):
            out.append(collapsed[r[: -len("::collapsed")]])
    return out


def _shown_edges(view: DagView, rep: dict[str, str], kept: set[str]) -> list[tuple[str, str]]:
    """Edges moved onto the nodes standing for their ends, without self-loops or duplicates."""
    edges: list[tuple[str, str]] = []
    seen_edges: set[tuple[str, str]] = set()
    for a, b in view.edges:
        e = (_standing_for(rep, a), _standing_for(rep, b))
        if e[0] != e[1] and e[0] in kept and e[1] in kept and e not in seen_edges:
            seen_edges.add(e)
            edges.append(e)
    return edges


def condense(view: DagView, *, group_retries: bool = True, max_fanout: int = MAX_FANOUT) -> DagView:
    """A smaller DagView with the same meaning: attempts folded into Retry nodes, big fan-outs collapsed.

    Edges follow their endpoints into the node that now stands for them (the last attempt's edge onward becomes
    the Retry node's edge); nodes nested inside a hidden node (by `parent`) are hidden with it.
    """
    by_id = view.by_id()
    members = _group_members(view, by_id)
    rep: dict[str, str] = {}  # hidden node -> the node standing for it (may itself be hidden)
    retry_counts = _retry_counts(members, by_id) if group_retries else {}
    for gid in retry_counts:
        rep.update((i, gid) for i in members[gid])
    collapsed = _collapsed_fanouts(members, by_id, max_fanout)
    for gid, node in collapsed.items():
        rep.update((i, node.id) for i in members[gid])
    _hide_nested(view, by_id, rep)
    out = _shown_nodes(view, rep, retry_counts, collapsed)
    # replace(): every other field of the view (phase, progress, notes, root, the read error) carries over
    return replace(view, nodes=out, edges=_shown_edges(view, rep, {n.id for n in out}), notes=list(view.notes))


def layout_positions(view: DagView, sweeps: int = 3) -> dict[str, tuple[float, float]]:
    """Like lib.core.dag.positions (x = longest-path layer), with nodes ordered inside each layer by the mean height
    of their neighbours (barycentre sweeps, down/up/down), which removes most edge crossings."""
    pos = positions(view)
    layer_of = {n: int(x) for n, (x, _) in pos.items()}
    y = {n: yy for n, (_, yy) in pos.items()}
    by_layer: dict[int, list[str]] = {}
    for n in view.nodes:
        by_layer.setdefault(layer_of[n.id], []).append(n.id)
    parents: dict[str, list[str]] = {n: [] for n in pos}
    children: dict[str, list[str]] = {n: [] for n in pos}
    for a, b in view.edges:
        if a in pos and b in pos:
            parents[b].append(a)
            children[a].append(b)
    order = sorted(by_layer)
    for sweep in range(sweeps):
        down = sweep % 2 == 0
        neighbours = parents if down else children
        for layer in order if down else reversed(order):
            members = by_layer[layer]
            key = {
                m: (sum(y[p] for p in neighbours[m]) / len(neighbours[m]) if neighbours[m] else y[m]) for m in members
            }
            members.sort(key=lambda m: -key[m])
            k = len(members)
            for i, m in enumerate(members):
                y[m] = (k - 1) / 2 - i
    return {n: (float(layer_of[n]), y[n]) for n in pos}


def _fmt_time(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if t else "—"


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s" if m else f"{s}s"


def hover_text(n: DagNode) -> str:
    """Label, kind and state, start/end/duration, attempts or member counts, and the message (escaped)."""
    lines = [
        f"<b>{html.escape(n.label)}</b>",
        f"{n.kind} · {n.state}",
        f"started: {_fmt_time(n.started_at)}",
        f"finished: {_fmt_time(n.finished_at)}",
        f"duration: {_fmt_duration(n.duration_s)}" + ("" if n.finished_at or n.started_at is None else " (so far)"),
    ]
    if n.tool:
        lines.append(f"tool: {html.escape(n.tool)}")
    if n.kind == "retry":
        lines.append(f"attempts: {n.attempts}" + (f" ({_counts_text(n.counts)})" if n.counts else ""))
    elif n.counts:
        lines.append(f"members: {_counts_text(n.counts)}")
    if n.message and n.kind != "collapsed":  # a collapsed node's message repeats its counts
        msg = n.message if len(n.message) <= MESSAGE_CHARS else n.message[: MESSAGE_CHARS - 1] + "…"
        lines.append(html.escape(msg))
    return "<br>".join(lines)


def _blank_figure(view: DagView) -> go.Figure:
    """The figure's frame: white, no axes, and a uirevision per run so a rerun keeps the reader's zoom."""
    fig = go.Figure()
    fig.update_layout(
        showlegend=True,
        legend_title_text="State",
        hovermode="closest",
        plot_bgcolor="white",
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        uirevision=view.root or "dag",
        xaxis={"visible": False},
        yaxis={"visible": False},
    )
    return fig


def _draw_note(fig: go.Figure, view: DagView) -> None:
    """With nothing to draw, the view's notes say why (in a short figure)."""
    fig.add_annotation(
        text=html.escape(" ".join(view.notes) or "No steps yet."),
        showarrow=False,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
    )
    fig.update_layout(height=200)


def _edge_trace(shown: DagView, pos: dict[str, tuple[float, float]]) -> go.Scatter:
    """All edges as one line trace (None separates segments), so thousands of edges cost one trace."""
    ex: list[float | None] = []
    ey: list[float | None] = []
    for a, b in shown.edges:
        (x0, y0), (x1, y1) = pos[a], pos[b]
        ex += [x0, x1, None]
        ey += [y0, y1, None]
    return go.Scatter(
        x=ex,
        y=ey,
        mode="lines",
        line={"color": "#9aa3ad", "width": 1},
        hoverinfo="skip",
        showlegend=False,
        name="edges",
    )


def _state_marker_trace(
    state: str, ns: list[DagNode], pos: dict[str, tuple[float, float]], with_labels: bool
) -> go.Scatter:
    """One state's nodes: colour by state, symbol by kind, hover text per node, node id as customdata."""
    return go.Scatter(
        x=[pos[n.id][0] for n in ns],
        y=[pos[n.id][1] for n in ns],
        mode="markers+text" if with_labels else "markers",
        text=[n.label for n in ns] if with_labels else None,
        textposition="top center",
        hovertext=[hover_text(n) for n in ns],
        hoverinfo="text",
        customdata=[n.id for n in ns],
        marker={
            "color": STATE_COLORS[state],
            "size": [22 if n.kind == "collapsed" else 14 for n in ns],
            "symbol": [KIND_SYMBOLS.get(n.kind, "circle") for n in ns],
            "line": {"color": "#333", "width": 1},
        },
        name=state,
        legendgroup=state,
        showlegend=False,
    )


def _legend_trace(state: str) -> go.Scatter:
    """The legend entry is a plain circle of the state's colour, whatever the first node's kind."""
    return go.Scatter(
        x=[None],
        y=[None],
        mode="markers",
        name=state,
        legendgroup=state,
        marker={
            "color": STATE_COLORS[state],
            "size": 12,
            "symbol": "circle",
            "line": {"color": "#333", "width": 1},
        },
        hoverinfo="skip",
    )


def _draw_nodes(fig: go.Figure, shown: DagView, pos: dict[str, tuple[float, float]]) -> None:
    """A marker trace and a legend entry per state present, in STATES order; labels only while few nodes."""
    with_labels = len(shown.nodes) <= LABEL_LIMIT
    by_state: dict[str, list[DagNode]] = {}
    for n in shown.nodes:
        by_state.setdefault(n.state if n.state in STATE_COLORS else "pending", []).append(n)
    for state in STATES:
        ns = by_state.get(state)
        if not ns:
            continue
        fig.add_trace(_state_marker_trace(state, ns, pos, with_labels))
        fig.add_trace(_legend_trace(state))


def _fit_to_layers(fig: go.Figure, pos: dict[str, tuple[float, float]]) -> None:
    """Height grows with the widest layer (within bounds) and the x range spans every layer."""
    layer_sizes = Counter(x for x, _ in pos.values())
    fig.update_layout(height=int(min(1200, max(260, 120 + 48 * max(layer_sizes.values())))))
    fig.update_xaxes(range=[-0.8, max(layer_sizes) + 0.9])


def dag_figure(
    view: DagView, *, group_retries: bool | None = None, max_fanout: int = MAX_FANOUT, detail_limit: int = DETAIL_LIMIT
) -> go.Figure:
    """The figure: one marker trace per state (the legend), one edge trace, hover text per node.

    group_retries None folds attempts only when the view has more than `detail_limit` nodes, so a normal scan
    still shows each attempt.
    """
    if group_retries is None:
        group_retries = len(view.nodes) > detail_limit
    shown = condense(view, group_retries=group_retries, max_fanout=max_fanout)
    fig = _blank_figure(view)
    if not shown.nodes:
        _draw_note(fig, view)
        return fig
    pos = layout_positions(shown)
    fig.add_trace(_edge_trace(shown, pos))
    _draw_nodes(fig, shown, pos)
    _fit_to_layers(fig, pos)
    return fig


def point_count(fig: go.Figure) -> int:
    """How many x values the figure ships to the browser (markers plus edge vertices and separators)."""
    return sum(len(t.x or ()) for t in fig.data)
